import Foundation

/// `moepp calibrate`: measures each MoE layer's sensitivity F_l and expert difference D_l on
/// held-out calibration text with the trainer's forward and backward (cross-entropy only), for
/// AdapMoE's adaptive gating thresholds (see `AdaptiveGate`).
public enum Calibrator {
    public static func calibrate(directory: String, text: String, maximumTokens: Int = 16_384, batch: Int = 4,
                                 defaultEpsilon: Double = 0.01, profileTokens: Int = 4096, log: (String) -> Void = { _ in }) throws -> Calibration {
        let config = try ModelConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        let tokenizer = try Tokenizer.load(directory: directory)
        let store = ParameterStore<Float>(config: config)
        try store.load(from: CheckpointWeights(directory: directory))
        let length = config.maxPositionEmbeddings
        let model = TrainingModel(store: store, batch: batch, length: length, balanceCoefficient: 0, tau: 0)
        model.outputGradientSquares = [Double](repeating: 0, count: config.numLayers)
        let ids = Array(tokenizer.encode(text).prefix(maximumTokens))
        let perBatch = batch * length
        guard ids.count > perBatch else {
            throw CheckpointError(file: "calibration text", "\(ids.count) tokens; need more than \(perBatch)")
        }
        var differenceSums = [Double](repeating: 0, count: config.numLayers), differenceTokens = [Int](repeating: 0, count: config.numLayers)
        var tokens = 0
        var start = 0
        while start + perBatch + 1 <= ids.count {
            let inputs = Array(ids[start..<start + perBatch]), targets = Array(ids[start + 1...start + perBatch])
            store.zeroGradients()
            model.forward(tokens: inputs, targets: targets)
            for l in 0..<config.numLayers {
                let (sum, count) = model.moe[l].expertDifference()
                differenceSums[l] += sum
                differenceTokens[l] += count
            }
            model.backward()
            tokens += perBatch
            start += perBatch
            log("calibrated on \(tokens) tokens")
        }
        let layers = (0..<config.numLayers).map { l in
            Calibration.Layer(sensitivity: model.outputGradientSquares![l] / Double(tokens),
                              expertDifference: differenceTokens[l] > 0 ? differenceSums[l] / Double(differenceTokens[l]) : 0,
                              tokens: differenceTokens[l])
        }
        var calibration = Calibration(layers: layers, calibrationTokens: tokens, defaultEpsilon: defaultEpsilon)
        calibration.cache = try profileCache(directory: directory, ids: Array(ids.prefix(profileTokens)))
        log("cache profile on \(calibration.cache?.tokens ?? 0) tokens")
        return calibration
    }

    /// Runs the inference engine over `ids` (in context-sized chunks) with expert prediction on,
    /// and replays the trace into a `CacheProfile`.
    public static func profileCache(directory: String, ids: [Int]) throws -> CacheProfile {
        let model = try Transformer(directory: directory)
        model.expertPrediction = true
        var trace: [[CacheProfile.Step]] = []
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + model.config.maxPositionEmbeddings)])
            let output = try model.forward(chunk, cache: model.makeCache())
            for token in output.routing {
                trace.append(token.map { CacheProfile.Step(computed: $0.computedFFNExperts, predicted: $0.predictedExperts) })
            }
            start += chunk.count
        }
        return CacheProfile(trace: trace, experts: model.config.numFFNExperts)
    }

    public static func path(for directory: String) -> String { (directory as NSString).appendingPathComponent("calibration.json") }

    public static func load(directory: String) throws -> Calibration? {
        let path = path(for: directory)
        guard let data = try SmallFile.contentsIfPresent(path, maximumBytes: 64 << 20) else { return nil }
        do { return try JSONDecoder().decode(Calibration.self, from: data) } catch {
            throw CheckpointError(file: path, "not a calibration file: \(error.localizedDescription)")
        }
    }

    public static func save(_ calibration: Calibration, directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(calibration), to: path(for: directory))
    }
}
