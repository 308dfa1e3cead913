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
        case .ffn: return true
        }
    }

    public var isEverythingEnabled: Bool { zeroEnabled && copyEnabled && constantEnabled && disabledExperts.isEmpty }
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
