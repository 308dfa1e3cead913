import Foundation

/// `moepp calibrate`: measures each MoE layer's sensitivity F_l and expert difference D_l on
/// held-out calibration text with the trainer's forward and backward (cross-entropy only), for
/// AdapMoE's adaptive gating thresholds (see `AdaptiveGate`).
public enum Calibrator {
    /// Sequence length calibration uses by default: long enough for real contexts, short enough
    /// that attention activations (B·H·T² per layer) stay small on large models.
    public static func defaultLength(_ config: ModelConfig) -> Int { min(config.maxPositionEmbeddings, 512) }

    /// `length` defaults to `defaultLength`; batches of `batch` sequences of `length` tokens. The
    /// weights stay mapped: a paged store widens one layer at a time (`LayerwiseCalibration`).
    public static func calibrate(directory: String, text: String, maximumTokens: Int = 16_384, batch: Int = 4, length: Int? = nil,
                                 defaultEpsilon: Double = 0.01, profileTokens: Int = 4096, log: (String) -> Void = { _ in }) throws -> Calibration {
        let config = try ModelConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        if let reason = TrainingBlock<Float>.unsupported(config) { throw CheckpointError(file: directory, "calibrate: \(reason)") }
        let length = length ?? defaultLength(config)
        guard batch > 0, length > 0, length <= config.maxPositionEmbeddings else {
            throw CheckpointError(file: directory, "calibrate: need batch ≥ 1 and 1 ≤ length ≤ max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        let tokenizer = try Tokenizer.load(directory: directory)
        let ids = Array(tokenizer.encode(text).prefix(maximumTokens))
        let perBatch = batch * length
        guard ids.count > perBatch else {
            throw CheckpointError(file: "calibration text", "\(ids.count) tokens; need more than \(perBatch)")
        }
        let batches = stride(from: 0, through: ids.count - perBatch - 1, by: perBatch).map { start in
            (inputs: Array(ids[start..<start + perBatch]), targets: Array(ids[start + 1...start + perBatch]))
        }
        let store = try ParameterStore<Float>(paging: CheckpointWeights(directory: directory), config: config)
        let sums = try LayerwiseCalibration(store: store, batch: batch, length: length).run(batches, log: log)
        let tokens = batches.count * perBatch
        let layers = (0..<config.numLayers).map { l in
            Calibration.Layer(sensitivity: sums.outputGradientSquares[l] / Double(tokens),
                              expertDifference: sums.differenceTokens[l] > 0 ? sums.differenceSums[l] / Double(sums.differenceTokens[l]) : 0,
                              tokens: sums.differenceTokens[l])
        }
        log("calibrated on \(tokens) tokens")
        var calibration = Calibration(layers: layers, calibrationTokens: tokens, defaultEpsilon: defaultEpsilon)
        calibration.cache = try profileCache(directory: directory, ids: Array(ids.prefix(profileTokens)), chunk: length)
        log("cache profile on \(calibration.cache?.tokens ?? 0) tokens")
        return calibration
    }

    /// Runs the inference engine over `ids` (in chunks of `chunk` tokens, each a fresh context;
    /// default: the whole context) with expert prediction on, and replays the trace into a `CacheProfile`.
    public static func profileCache(directory: String, ids: [Int], chunk: Int? = nil) throws -> CacheProfile {
        let model = try Transformer(directory: directory)
        model.expertPrediction = true
        var trace: [[CacheProfile.Step]] = []
        var start = 0
        while start < ids.count {
            let piece = Array(ids[start..<min(ids.count, start + min(chunk ?? .max, model.config.maxPositionEmbeddings))])
            let output = try model.forward(piece, cache: model.makeCache())
            for token in output.routing {
                trace.append(token.map { CacheProfile.Step(computed: $0.computedFFNExperts, predicted: $0.predictedExperts) })
            }
            start += piece.count
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
