/// How a family turns router logits into the weights of the experts a token runs, as data: what
/// routing exports carry beside the per-token records (which hold only the outcome), and what
/// `moepp inspect` and the playground print. The computation itself is `Gate.decide`:
///
///   p = softmax(normalised logits);  S = top-k of p
///   w_i = p_i (i ∈ S);  w_zero ← 0 under MoE++'s zero-weight rule;  w ← w / Σw if renormalised
///   shared expert j: always on, weight sigmoid(w_g · x) with a gate (Qwen2-MoE), else 1
public struct WeightRule: Sendable, Codable, Equatable {
    /// Router experts and how many each token takes.
    public var experts: Int
    public var topK: Int
    /// "softmax over all experts, top-k of the probabilities" (every family moepp reads).
    public var scoring: String
    /// MoE++ default gating: the zero expert's weight is set to 0 before renormalising.
    public var zeroExpertWeightRule: Bool
    public var renormalized: Bool
    /// σ of MoE++'s logits norm (logits ÷ std/σ), nil without one.
    public var logitsNormStd: Float?
    /// MoE++'s gating residual: each router adds G·(previous layer's logits).
    public var gatingResidual: Bool
    /// Always-on experts per MoE layer and how each is weighted ("sigmoid gate" or "1").
    public var sharedExperts: Int
    public var sharedExpertWeight: String?
    /// Layers without a router (one dense FFN each).
    public var denseLayers: [Int]

    /// One line: "softmax top-8 of 64, not renormalised; shared ×1 (sigmoid gate)".
    public var summary: String {
        var parts = ["softmax top-\(topK) of \(experts)"]
        if zeroExpertWeightRule { parts.append("zero expert's weight → 0") }
        parts.append(renormalized ? "renormalised" : "not renormalised")
        if let logitsNormStd { parts.append("logits norm σ=\(logitsNormStd)") }
        if gatingResidual { parts.append("gating residual") }
        var line = parts.joined(separator: ", ")
        if sharedExperts > 0 { line += "; shared ×\(sharedExperts) always on" + (sharedExpertWeight.map { " (\($0))" } ?? "") }
        if !denseLayers.isEmpty { line += "; dense layers " + denseLayers.map(String.init).joined(separator: ",") }
        return line
    }
}

extension ModelConfig {
    public var weightRule: WeightRule {
        WeightRule(experts: numExperts, topK: topK, scoring: "softmax over all experts, top-k of the probabilities",
                   zeroExpertWeightRule: hasZeroComputationExperts && !useMixtralGating && zeroExpertIndex != nil,
                   renormalized: normalizeTopK, logitsNormStd: useLogitsNorm ? gateNormStd : nil,
                   gatingResidual: hasGatingResidual, sharedExperts: sharedExperts,
                   sharedExpertWeight: sharedExperts == 0 ? nil : sharedExpertGate ? "sigmoid gate" : "weight 1",
                   denseLayers: denseLayers.sorted())
    }
}
