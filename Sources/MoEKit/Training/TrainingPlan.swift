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

    /// Reads and checks a plan; every fault is one line, "plan.json: key 'x': why".
    public static func load(path: String) throws -> TrainingPlan {
        let data = try SmallFile.contents(path, maximumBytes: 1 << 20)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CheckpointError(file: path, "not a JSON object")
        }
        // A misspelt key would otherwise be missing (one error) or, worse, ignored.
        if let unknown = Set(object.keys).subtracting(keys).sorted().first {
            throw CheckpointError.badKey(unknown, file: path, "unknown key (a plan has \(keys.sorted().joined(separator: ", ")))")
        }
        try checkTypes(object, file: path)
        let plan: TrainingPlan
        do {
            plan = try JSONDecoder().decode(TrainingPlan.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw CheckpointError.badKey(key.stringValue, file: path, "missing")
        } catch let DecodingError.typeMismatch(type, context) {
            throw CheckpointError.badKey(Self.key(context), file: path, "expected \(Self.describe(type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw CheckpointError.badKey(Self.key(context), file: path, "expected \(Self.describe(type)), found null")
        } catch let DecodingError.dataCorrupted(context) {
            throw CheckpointError.badKey(Self.key(context), file: path, "value out of range or malformed")
        } catch {
            throw CheckpointError(file: path, "not a valid training plan")
        }
        try plan.validate(file: path)
        return plan
    }

    /// Each key's JSON value against its Swift type, so that an error names the key (the
    /// decoder's own errors do not always carry it, e.g. for 1e30 in an Int).
    static func checkTypes(_ object: [String: Any], file: String) throws {
        for child in Mirror(reflecting: TrainingPlan()).children {
            guard let key = child.label else { continue }
            guard let value = object[key], !isJSONNull(value) else { throw CheckpointError.badKey(key, file: file, "missing") }
            let number = value as? NSNumber
            let isBoolean = number.map { $0.objCType.pointee == 0x63 } ?? false
            let real = isBoolean ? nil : number?.doubleValue
            let integral = real.map { $0.isFinite && $0 == $0.rounded() && abs($0) < 9e15 } ?? false
            let why: String? = switch child.value {
            case is Bool: isBoolean ? nil : "expected true or false"
            case is UInt64: integral && real! >= 0 ? nil : "expected an integer ≥ 0"
            case is Int: integral ? nil : "expected an integer"
            case is Double: real != nil ? nil : "expected a number"
            case is String: value is String ? nil : "expected a string"
            default: nil
            }
            if let why { throw CheckpointError.badKey(key, file: file, "\(why), found \("\(value)".quotedForMessage)") }
        }
    }

    /// The keys a plan file has: those of a default plan as encoded.
    static let keys: Set<String> = {
        let data = try! JSONEncoder().encode(TrainingPlan())
        return Set((try! JSONSerialization.jsonObject(with: data) as! [String: Any]).keys)
    }()

    private static func key(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? "(top level)" : path
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Double.Type: "a number"
        default: "an integer"
        }
    }

    /// Parameters (weights + gradients + two AdamW moments: 16 bytes each in f32) the trainer
    /// will hold, computed in Double so that absurd sizes cannot overflow.
    public var estimatedParameters: Double {
        let (d, i, l) = (Double(hiddenSize), Double(intermediateSize), Double(layers))
        let experts = Double(ffnExperts) + (family == "moe++" ? 4 : 0)
        return l * (4 * d * d + 3 * Double(ffnExperts) * d * i + experts * d + 2 * d) + 2 * 65_536 * d
    }

    /// Every value the trainer relies on, checked before anything is allocated: a negative size
    /// crashed AdamW, a huge one aborted in an allocation, a zero batch divided by zero.
    public func validate(file: String = "plan.json") throws {
        func fail(_ key: String, _ why: String) -> CheckpointError { .badKey(key, file: file, why) }
        func integer(_ key: String, _ value: Int, _ range: ClosedRange<Int>) throws {
            guard range.contains(value) else { throw fail(key, "expected an integer in \(range.lowerBound)…\(range.upperBound), found \(value)") }
        }
        func number(_ key: String, _ value: Double, _ range: ClosedRange<Double>, openBelow: Bool = false) throws {
            guard value.isFinite, range.contains(value), !(openBelow && value == range.lowerBound) else {
                let lower = openBelow ? "(\(range.lowerBound)" : "[\(range.lowerBound)"
                throw fail(key, "expected a number in \(lower), \(range.upperBound)], found \(value)")
            }
        }
        guard let modelFamily, modelFamily != .olmoe else { throw fail("family", "expected moe++ or mixtral, found \(family.quotedForMessage)") }
        try integer("hiddenSize", hiddenSize, 2...16_384)
        try integer("heads", heads, 1...hiddenSize)
        guard hiddenSize % heads == 0 else { throw fail("heads", "\(heads) heads do not divide hiddenSize \(hiddenSize)") }
        guard (hiddenSize / heads) % 2 == 0 else { throw fail("heads", "rotary embeddings need an even head size; hiddenSize / heads is \(hiddenSize / heads)") }
        try integer("layers", layers, 1...1024)
        try integer("intermediateSize", intermediateSize, 1...65_536)
        try integer("ffnExperts", ffnExperts, 1...1024)
        let experts = modelFamily == .moepp ? ffnExperts + 4 : ffnExperts
        try integer("topK", topK, 1...experts)
        try integer("context", context, 2...65_536)
        try integer("length", length, 1...context)
        try integer("batch", batch, 1...4096)
        guard batch * length <= 1 << 20 else { throw fail("batch", "batch × length is \(batch * length) tokens per step; at most \(1 << 20)") }
        let parameters = estimatedParameters
        guard parameters <= 1e9 else {
            throw fail("hiddenSize", String(format: "the model would have %.3g parameters (16 bytes each while training); at most 1e9", parameters))
        }
        try integer("steps", steps, 1...100_000_000)
        try integer("warmupSteps", warmupSteps, 0...steps)
        try integer("evaluateEvery", evaluateEvery, 1...Int.max)
        try integer("evaluationBatches", evaluationBatches, 0...1_000_000)
        try integer("checkpointEvery", checkpointEvery, 1...Int.max)
        try number("peakLearningRate", peakLearningRate, 0...10, openBelow: true)
        try number("finalLearningRateFraction", finalLearningRateFraction, 0...1)
        try number("weightDecay", weightDecay, 0...10)
        try number("gradientClip", gradientClip, 0...1e6, openBelow: true)
        try number("balanceCoefficient", balanceCoefficient, 0...1e3)
        try number("tau", tau, 0...1)
        try number("gateNormStd", gateNormStd, 0...1e3, openBelow: true)
        guard ["F32", "F16", "BF16"].contains(exportDType.uppercased()) else {
            throw fail("exportDType", "expected F32, F16 or BF16, found \(exportDType.quotedForMessage)")
        }
    }
}
