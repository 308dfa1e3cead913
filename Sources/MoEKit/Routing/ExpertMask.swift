/// Which experts the router may choose. A disabled expert's logit becomes −∞ after normalisation,
/// so the softmax and top-k pick among the rest. Used for the live toggles (zero / copy /
/// constant experts off, or any single expert).
public struct ExpertMask: Hashable, Sendable {
    public var zeroEnabled = true
    public var copyEnabled = true
    public var constantEnabled = true
    public var disabledExperts: Set<Int> = []

    public init() {}

    public func allows(_ index: Int, kind: ExpertKind) -> Bool {
        if disabledExperts.contains(index) { return false }
        switch kind {
        case .zero: return zeroEnabled
        case .copy: return copyEnabled
        case .constant: return constantEnabled
        case .ffn, .shared: return true
        }
    }

    public var isEverythingEnabled: Bool { zeroEnabled && copyEnabled && constantEnabled && disabledExperts.isEmpty }

    /// True when the router of `config` may still choose at least one expert.
    public func allowsAny(_ config: ModelConfig) -> Bool {
        (0..<config.numExperts).contains { allows($0, kind: config.kind(ofExpert: $0)) }
    }

    /// Refuses a mask that leaves the router nothing to choose (startup flags, live toggles and
    /// the generator all go through here, so every path says the same thing).
    public func check(_ config: ModelConfig) throws {
        guard allowsAny(config) else { throw RoutingError.noExpertEnabled }
    }
}

public enum RoutingError: Error, CustomStringConvertible, Equatable {
    case noExpertEnabled

    public var description: String {
        switch self {
        case .noExpertEnabled: return "every expert is disabled; the router needs at least one"
        }
    }
}

/// The per-token routing knobs the generator reads before every token.
public struct RoutingControls: Hashable, Sendable {
    public var mask = ExpertMask()
    /// nil: the model's own top-k.
    public var topK: Int?
    public var gatingResidual = true
    /// AdapMoE adaptive gating; nil: off.
    public var adaptiveGate: AdaptiveGate?

    public init(mask: ExpertMask = ExpertMask(), topK: Int? = nil, gatingResidual: Bool = true, adaptiveGate: AdaptiveGate? = nil) {
        self.mask = mask
        self.topK = topK
        self.gatingResidual = gatingResidual
        self.adaptiveGate = adaptiveGate
    }
}
