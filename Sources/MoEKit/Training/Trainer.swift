import Foundation

/// Runs a training plan in a run directory, resumably:
///   run/plan.json, run/tokenizer.json        what is being trained
///   run/tokens.bin                           the tokenised corpus (train, then validation)
///   run/checkpoint/step-N/                   f32 weights + optimiser state + state.json + a
///                                            manifest written last, every `checkpointEvery`
///                                            steps (complete or absent: TrainerCheckpoint.swift)
///   run/log.jsonl                            one line per logged step / evaluation
/// Killing the process loses at most `checkpointEvery` steps; starting again continues.
public final class Trainer {
    public let plan: TrainingPlan
    public let runDirectory: String
    public let tokenizer: Tokenizer
    public let config: ModelConfig
    public let dataset: TokenDataset
    public let store: ParameterStore<Float>
    let optimiser: AdamW<Float>
    let model: TrainingModel<Float>
    let schedule: LearningRateSchedule
    public internal(set) var step = 0

    public struct State: Codable {
        public var step: Int
        public var trainLoss: Double
        public var validationLoss: Double?
        public var tokensSeen: Int
        public var seconds: Double
    }

    var state = State(step: 0, trainLoss: 0, validationLoss: nil, tokensSeen: 0, seconds: 0)
    /// Called after each checkpoint file is written; tests throw from it to simulate a kill.
    var afterCheckpointWrite: ((String) throws -> Void)?

    func path(_ name: String) -> String { (runDirectory as NSString).appendingPathComponent(name) }

    /// Opens (or continues) the run in `runDirectory` with `tokenizer.json` and the corpus files.
    public init(plan: TrainingPlan, runDirectory: String, tokenizerPath: String, trainFiles: [String], validationFiles: [String],
                log: (String) -> Void = { print($0) }) throws {
        try plan.validate(file: (runDirectory as NSString).appendingPathComponent("plan.json"))
        self.plan = plan
        self.runDirectory = runDirectory
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let savedPlan = (runDirectory as NSString).appendingPathComponent("plan.json")
        if FileManager.default.fileExists(atPath: savedPlan) {
            let previous = try TrainingPlan.load(path: savedPlan)
            guard previous == plan else { throw CheckpointError(file: savedPlan, "this run was started with a different plan; use a new run directory") }
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(plan), to: savedPlan)
        }
        let runTokenizer = (runDirectory as NSString).appendingPathComponent("tokenizer.json")
        if !FileManager.default.fileExists(atPath: runTokenizer) { try FileManager.default.copyItem(atPath: tokenizerPath, toPath: runTokenizer) }
        tokenizer = try Tokenizer.load(path: runTokenizer)
        guard let endOfText = tokenizer.addedTokens.first(where: { $0.content == "<|endoftext|>" })?.id else {
            throw CheckpointError(file: runTokenizer, "no <|endoftext|> special token")
        }
        config = try plan.modelConfig(vocabularySize: tokenizer.vocabularySize, endOfText: endOfText)
        dataset = try Self.loadTokens(path: (runDirectory as NSString).appendingPathComponent("tokens.bin"), tokenizer: tokenizer,
                                      endOfText: endOfText, trainFiles: trainFiles, validationFiles: validationFiles, log: log)
        for (split, tokens) in [("training", dataset.train.count), ("validation", dataset.validation.count)]
        where tokens < plan.length + 2 && (split == "training" || plan.evaluationBatches > 0) {
            throw TrainingError.corpusTooShort(tokens: tokens, needed: plan.length + 2, split: split)
        }
        if let reason = TrainingBlock<Float>.unsupported(config) { throw CheckpointError(file: runDirectory, "train: \(reason)") }
        store = ParameterStore<Float>(config: config)
        optimiser = AdamW(store: store, weightDecay: plan.weightDecay)
        model = TrainingModel(store: store, batch: plan.batch, length: plan.length, balanceCoefficient: plan.balanceCoefficient, tau: plan.tau)
        schedule = LearningRateSchedule(peak: plan.peakLearningRate, warmupSteps: plan.warmupSteps, totalSteps: plan.steps, floor: plan.finalLearningRateFraction)
        if try hasCheckpoint() {
            try resume()
            log("resumed \(runDirectory) at step \(step)")
        } else {
            store.initialise(seed: plan.seed)
        }
    }

    /// Tokenises the corpus once (caching by pre-tokenizer word) into `tokens.bin`:
    /// [train count: UInt64][validation count: UInt64][train UInt16…][validation UInt16…].
    static func loadTokens(path: String, tokenizer: Tokenizer, endOfText: Int, trainFiles: [String], validationFiles: [String],
                           log: (String) -> Void) throws -> TokenDataset {
        if let data = FileManager.default.contents(atPath: path), data.count >= 16 {
            let counts = data.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            // Compared as UInt64 so that a damaged header cannot overflow or trap in a conversion.
            let available = UInt64(data.count - 16) / 2
            guard counts.0 <= available, counts.1 <= available - counts.0, data.count == 16 + 2 * Int(counts.0 + counts.1) else {
                throw CheckpointError(file: path, "damaged token file (header counts \(counts.0) + \(counts.1), \(data.count) bytes); remove it to tokenise again")
            }
            let (trainCount, validationCount) = (Int(counts.0), Int(counts.1))
            let ids = data.withUnsafeBytes { raw in (0..<(trainCount + validationCount)).map { raw.loadUnaligned(fromByteOffset: 16 + 2 * $0, as: UInt16.self) } }
            if let bad = ids.first(where: { Int($0) >= tokenizer.vocabularySize }) {
                throw CheckpointError(file: path, "token id \(bad) is outside the tokenizer's \(tokenizer.vocabularySize); remove it to tokenise again")
            }
            return TokenDataset(train: Array(ids[..<trainCount]), validation: Array(ids[trainCount...]))
        }
        guard tokenizer.vocabularySize <= Int(UInt16.max) else { throw CheckpointError(file: path, "vocabulary too large for 16-bit token ids") }
        var cache: [String: [Int]] = [:]
        func encode(_ files: [String]) throws -> [UInt16] {
            var ids: [UInt16] = []
            for file in files {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CheckpointError(file: file, "cannot read as UTF-8 text") }
                for word in ByteLevelPreTokenizer.split(text) {
                    if cache[word] == nil { cache[word] = tokenizer.encodeWord(word) }
                    ids += cache[word]!.map { UInt16($0) }
                }
                ids.append(UInt16(endOfText))
            }
            return ids
        }
        let train = try encode(trainFiles), validation = try encode(validationFiles)
        log("tokenised: \(train.count) training and \(validation.count) validation tokens")
        var data = Data()
        var header = [UInt64(train.count), UInt64(validation.count)]
        data.append(Data(bytes: &header, count: 16))
        (train + validation).withUnsafeBytes { data.append(contentsOf: $0) }
        try AtomicFile.write(data, to: path)
        return TokenDataset(train: train, validation: validation)
    }

    /// Matmul FLOPs per trained token, forward + backward (≈ 3 × forward), for the throughput report.
    public var flopsPerToken: Double {
        let d = Double(config.hiddenSize), l = Double(config.numLayers), t = Double(plan.length)
        let ffnPerToken = Double(plan.topK) * 3 * d * Double(config.intermediateSize)
        let forward = 2 * l * (4 * d * d + ffnPerToken + d * Double(config.numExperts) + t * d) + 2 * d * Double(config.vocabSize)
        return 3 * forward
    }

    /// Mean cross-entropy over the fixed validation batches.
    public func validationLoss() -> Double {
        var total = 0.0, batches = 0
        for index in 0..<plan.evaluationBatches {
            guard let batch = dataset.validationBatch(index, batch: plan.batch, length: plan.length) else { break }
            model.forward(tokens: batch.tokens, targets: batch.targets)
            total += Double(model.crossEntropy)
            batches += 1
        }
        return batches > 0 ? total / Double(batches) : .nan
    }

    /// Trains until the plan's last step or until `deadline`; checkpoints along the way and at the end.
    public func run(until deadline: Date = .distantFuture, stopAt lastStep: Int? = nil, log: (String) -> Void = { print($0) }) throws {
        let lastStep = min(plan.steps, lastStep ?? plan.steps)
        let started = Date()
        let secondsBefore = state.seconds
        var windowStart = Date(), windowTokens = 0
        while step < lastStep && Date() < deadline {
            let (tokens, targets) = dataset.trainingBatch(batch: plan.batch, length: plan.length, seed: plan.seed &* 1_000_003 &+ UInt64(step))
            store.zeroGradients()
            let loss = model.forward(tokens: tokens, targets: targets)
            guard loss.isFinite else { throw TrainingError.nonFiniteLoss(step: step + 1) }
            model.backward()
            let norm = clipGradients(store, limit: Float(plan.gradientClip))
            let rate = schedule.rate(at: step)
            optimiser.update(store, learningRate: Float(rate))
            step += 1
            windowTokens += tokens.count
            state.tokensSeen += tokens.count
            state.trainLoss = Double(model.crossEntropy)
            if step % 10 == 0 || step == plan.steps {
                let elapsed = Date().timeIntervalSince(windowStart)
                let rateTokens = Double(windowTokens) / elapsed
                let eta = Double(plan.steps - step) * Double(plan.batch * plan.length) / rateTokens
                log(String(format: "step %d/%d  loss %.4f (ce %.4f, balance %.4f)  lr %.2e  |g| %.2f  %.0f tok/s  %.1f GFLOP/s  eta %@",
                           step, plan.steps, Double(loss), Double(model.crossEntropy), Double(model.balanceLoss), rate, Double(norm),
                           rateTokens, rateTokens * flopsPerToken / 1e9, Self.duration(eta)))
                appendLog(["step": step, "loss": Double(loss), "crossEntropy": Double(model.crossEntropy), "balance": Double(model.balanceLoss),
                           "learningRate": rate, "gradientNorm": Double(norm), "tokensPerSecond": rateTokens])
                windowStart = Date(); windowTokens = 0
            }
            if step % plan.evaluateEvery == 0 || step == plan.steps {
                let validation = validationLoss()
                state.validationLoss = validation
                log(String(format: "step %d  validation loss %.4f  perplexity %.2f", step, validation, exp(validation)))
                appendLog(["step": step, "validationLoss": validation])
            }
            if step % plan.checkpointEvery == 0 || step == plan.steps {
                state.seconds = secondsBefore + Date().timeIntervalSince(started)
                try checkpoint()
            }
        }
        state.seconds = secondsBefore + Date().timeIntervalSince(started)
        try checkpoint()
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }

    func appendLog(_ fields: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        let logPath = path("log.jsonl")
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        if let handle = FileHandle(forWritingAtPath: logPath) {
            handle.seekToEndOfFile()
            handle.write(data + Data("\n".utf8))
            handle.closeFile()
        }
    }

    /// Writes the model for the engine: weights in the plan's export dtype, config.json,
    /// tokenizer.json and training.json (the plan and the final figures).
    public func export(to directory: String) throws {
        guard let dtype = WeightFormat(rawValue: plan.exportDType.uppercased()), dtype.elementsPerBlock == 1 else { throw CheckpointError(file: path("plan.json"), "key 'exportDType': expected F32, F16 or BF16") }
        try store.save(to: directory, dtype: dtype, metadata: ["format": "pt", "trained_by": "moepp train", "step": "\(step)"])
        let tokenizerTarget = (directory as NSString).appendingPathComponent("tokenizer.json")
        try? FileManager.default.removeItem(atPath: tokenizerTarget)
        try FileManager.default.copyItem(atPath: path("tokenizer.json"), toPath: tokenizerTarget)
        struct Summary: Codable { let plan: TrainingPlan; let state: State }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(Summary(plan: plan, state: state)), to: (directory as NSString).appendingPathComponent("training.json"))
    }
}
