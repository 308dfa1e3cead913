/// One expert the router chose for a token at a layer, with its final (post-rule, renormalised) weight.
public struct ChosenExpert: Hashable, Sendable, Codable {
    public var index: Int
    public var kind: ExpertKind
    public var weight: Float
    /// True when AdapMoE's adaptive gating dropped this slot (its weight is then 0).
    public var dropped: Bool

    public init(index: Int, kind: ExpertKind, weight: Float, dropped: Bool = false) {
        self.index = index
        self.kind = kind
        self.weight = weight
        self.dropped = dropped
    }
}

/// What the router of one layer did for one token. Names follow the stages of the gate:
/// `routerLogits` (W_r·x), `residualLogits` (+ G·previous, what the next layer receives),
/// `probabilities` (after logits norm, mask and softmax), `chosen` (top-k with final weights).
/// The `…WithoutResidual` fields replay the gate on `routerLogits` alone, so the gating
/// residual's effect is observable. `shared` lists the always-on experts outside the router
/// (kind `.shared(i)`, weight = its gate value or 1). A dense layer has no router: its logits,
/// probabilities and `chosen` are empty and its one FFN is `shared(0)` with weight 1.
/// With sigmoid gating (DeepSeek-V3) `probabilities` holds the sigmoid scores, which need not sum to 1.
public struct LayerRouting: Sendable, Codable {
    public var layer: Int
    public var routerLogits: [Float]
    public var residualLogits: [Float]
    public var probabilities: [Float]
    public var chosen: [ChosenExpert]
    public var probabilitiesWithoutResidual: [Float]
    public var chosenWithoutResidual: [Int]
    public var ffnExpertsComputed: Int
    /// FFN experts the prefetcher predicted for this layer (from the layer before); nil when
    /// prediction is off or for layer 0.
    public var predictedExperts: [Int]?
    /// This layer's expert-cache traffic during the forward pass (on a batch's last token);
    /// nil without an expert cache.
    public var cache: LayerCacheStatistics?
    public var shared: [ChosenExpert] = []
    /// The rule that formed `chosen` and its weights (nil for a dense layer, and in exports
    /// written before records carried it).
    public var rule: GatingRule? = nil

    /// False for a dense layer (a feed-forward without a router).
    public var hasRouter: Bool { !routerLogits.isEmpty }

    /// FFN experts that actually ran: chosen FFN slots with a non-zero weight. (An FFN expert's
    /// router index is its expert number: FFN experts come first in every family.)
    public var computedFFNExperts: [Int] { chosen.filter { $0.weight != 0 && $0.kind.isFFN }.map(\.index) }

    /// Did the gating residual change which experts were chosen?
    public var residualChangedChoice: Bool { Set(chosen.map(\.index)) != Set(chosenWithoutResidual) }

    /// Total variation distance between the probabilities with and without the residual.
    public var residualProbabilityShift: Float {
        zip(probabilities, probabilitiesWithoutResidual).reduce(0) { $0 + abs($1.0 - $1.1) } / 2
    }
}

extension LayerRouting {
    /// A record with nothing in it yet: a buffer a forward pass overwrites.
    init(layer: Int) {
        self.init(layer: layer, routerLogits: [], residualLogits: [], probabilities: [], chosen: [], probabilitiesWithoutResidual: [],
                  chosenWithoutResidual: [], ffnExpertsComputed: 0)
    }

    /// Empties every field for `layer`, keeping the arrays' buffers: what a forward pass does
    /// before writing a record it reuses. (A field added to the record must be cleared here.)
    mutating func reset(layer: Int) {
        self.layer = layer
        routerLogits.removeAll(keepingCapacity: true)
        residualLogits.removeAll(keepingCapacity: true)
        probabilities.removeAll(keepingCapacity: true)
        chosen.removeAll(keepingCapacity: true)
        probabilitiesWithoutResidual.removeAll(keepingCapacity: true)
        chosenWithoutResidual.removeAll(keepingCapacity: true)
        ffnExpertsComputed = 0
        predictedExperts = nil
        cache = nil
        shared.removeAll(keepingCapacity: true)
        rule = nil
    }

    /// Lists a dense FFN that every token passes through as the always-on `shared(0)`, weight 1
    /// (a dense layer's one FFN, LongCat's dense FFN beside its shortcut MoE).
    mutating func listDenseFFNAsShared() {
        shared.removeAll(keepingCapacity: true)
        shared.append(ChosenExpert(index: 0, kind: .shared(0), weight: 1))
    }
}

/// Routing of one token through every layer.
public struct TokenRouting: Sendable, Codable {
    public var position: Int
    public var tokenId: Int
    public var text: String
    /// "prompt" or "generated".
    public var phase: String
    public var layers: [LayerRouting]

    public var ffnExpertsComputed: Int { layers.reduce(0) { $0 + $1.ffnExpertsComputed } }
    public var meanFFNExpertsPerLayer: Double { layers.isEmpty ? 0 : Double(ffnExpertsComputed) / Double(layers.count) }
}
