/// Every knob the generator reads before each token (`GenerationSettings`), plus the playground's
/// reply length, as typed JSON fields — what a session and an export record, and what `/load`
/// puts back.
public struct SessionSettings: Codable, Sendable, Equatable {
    public var zeroExperts: Bool
    public var copyExperts: Bool
    public var constantExperts: Bool
    /// Router slots switched off by hand (`/expert N off`), ascending.
    public var disabledExperts: [Int]
    public var gatingResidual: Bool
    /// nil: the checkpoint's own top-k.
    public var routerTopK: Int?
    /// AdapMoE adaptive gating: ε and the per-layer thresholds t_l it gave; both nil when off.
    public var adaptiveEpsilon: Double?
    public var adaptiveThresholds: [Float]?
    public var temperature: Float
    /// Sampling among the k most likely tokens (0: all).
    public var samplingTopK: Int
    public var topP: Float
    public var seed: UInt64
    /// Tokens per reply.
    public var maxTokens: Int

    public init(_ settings: GenerationSettings, maxTokens: Int, adaptiveEpsilon: Double?) {
        let routing = settings.routing
        zeroExperts = routing.mask.zeroEnabled
        copyExperts = routing.mask.copyEnabled
        constantExperts = routing.mask.constantEnabled
        disabledExperts = routing.mask.disabledExperts.sorted()
        gatingResidual = routing.gatingResidual
        routerTopK = routing.topK
        self.adaptiveEpsilon = routing.adaptiveGate == nil ? nil : adaptiveEpsilon
        adaptiveThresholds = routing.adaptiveGate?.thresholds
        temperature = settings.sampling.temperature
        samplingTopK = settings.sampling.topK
        topP = settings.sampling.topP
        seed = settings.sampling.seed
        self.maxTokens = maxTokens
    }

    public var generationSettings: GenerationSettings {
        var mask = ExpertMask()
        mask.zeroEnabled = zeroExperts
        mask.copyEnabled = copyExperts
        mask.constantEnabled = constantExperts
        mask.disabledExperts = Set(disabledExperts)
        return GenerationSettings(
            routing: RoutingControls(mask: mask, topK: routerTopK, gatingResidual: gatingResidual,
                                     adaptiveGate: adaptiveThresholds.map(AdaptiveGate.init(thresholds:))),
            sampling: SamplingSettings(temperature: temperature, topK: samplingTopK, topP: topP, seed: seed))
    }

    /// Refuses settings `config`'s model cannot run, in one line naming the field.
    public func check(for config: ModelConfig) throws {
        func fail(_ field: String, _ why: String) -> SessionFileError { .malformed("settings", field: field, detail: why) }
        if let bad = disabledExperts.first(where: { !(0..<config.numExperts).contains($0) }) {
            throw fail("disabledExperts", "expert \(bad), but the model has experts 0…\(config.numExperts - 1)")
        }
        if let k = routerTopK, !(1...config.numExperts).contains(k) { throw fail("routerTopK", "\(k) is outside 1…\(config.numExperts)") }
        if let thresholds = adaptiveThresholds {
            guard thresholds.count == config.numLayers else { throw fail("adaptiveThresholds", "\(thresholds.count) layers, the model has \(config.numLayers)") }
            guard thresholds.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw fail("adaptiveThresholds", "expected finite numbers ≥ 0") }
        }
        guard temperature.isFinite, (0...10).contains(temperature) else { throw fail("temperature", "expected a number in 0…10") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw fail("topP", "expected a number in (0, 1]") }
        guard samplingTopK >= 0 else { throw fail("samplingTopK", "expected an integer ≥ 0") }
        guard (1...4096).contains(maxTokens) else { throw fail("maxTokens", "expected 1…4096") }
        try generationSettings.routing.mask.check(config)
    }
}
