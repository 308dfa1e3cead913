import Foundation

/// Everything that defines a training run, saved beside its checkpoints so that a resumed run
/// (or `make reproduce`) trains exactly the same model.
public struct TrainingPlan: Codable, Sendable, Equatable {
    public var family = "moe++"
    public var hiddenSize = 256
    public var layers = 4
    public var heads = 4
    public var intermediateSize = 384
    public var ffnExperts = 8
    public var topK = 2
    public var context = 256
    public var logitsNorm = true
    public var gateNormStd = 1.0
    public var batch = 16
    public var length = 128
    public var steps = 3000
    public var warmupSteps = 100
    public var peakLearningRate = 3e-3
    public var finalLearningRateFraction = 0.1
    public var weightDecay = 0.1
    public var gradientClip = 1.0
    public var balanceCoefficient = 0.01
    /// τ of the heterogeneous balance loss (moepp-spec): the weight of zero-computation experts' term.
    public var tau = 0.75
    public var seed: UInt64 = 1
    public var evaluateEvery = 250
    public var evaluationBatches = 8
    public var checkpointEvery = 100
    public var exportDType = "F16"

    public init() {}

    public var modelFamily: ModelFamily? { ModelFamily(rawValue: family) }

    public func modelConfig(vocabularySize: Int, endOfText: Int) throws -> ModelConfig {
        guard let modelFamily, modelFamily != .olmoe else { throw CheckpointError(file: "plan", "key 'family': expected moe++ or mixtral, found \"\(family)\"") }
        var config = ModelConfig(family: modelFamily, vocabSize: vocabularySize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                                 numLayers: layers, numHeads: heads, numKeyValueHeads: heads,
                                 numExperts: modelFamily == .moepp ? ffnExperts + 4 : ffnExperts, topK: topK,
                                 ropeTheta: 10_000, rmsNormEps: 1e-5, maxPositionEmbeddings: context)
        config.useLogitsNorm = modelFamily == .moepp && logitsNorm
        config.gateNormStd = Float(gateNormStd)
        config.bosTokenId = endOfText
        config.eosTokenIds = [endOfText]
        return config
    }

    public static func load(path: String) throws -> TrainingPlan {
        guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.missingFile(path) }
        do {
            return try JSONDecoder().decode(TrainingPlan.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw CheckpointError.badKey(key.stringValue, file: path, "missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw CheckpointError.badKey(context.codingPath.map(\.stringValue).joined(separator: "."), file: path, "wrong type")
        } catch {
            throw CheckpointError(file: path, "not a valid training plan: \(error.localizedDescription)")
        }
    }
}
