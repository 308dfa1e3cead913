/// A model's whole weighting scheme as data: the router's `GatingRule` (scores, choice, groups,
/// renormalisation, scaling — what `Gate.decide` computes) plus what surrounds it — MoE++'s logits
/// norm and gating residual, always-on shared experts, dense layers. Sessions and `generate --json`
/// carry it beside the per-token records (which hold only the outcome), and the inspector prints
/// its summary for models without a gating residual:
///   shared expert j: always on, weight sigmoid(w_g · x) with a gate (Qwen2-MoE), else 1
public struct WeightRule: Sendable, Codable, Equatable {
    /// Router experts and how many each token takes.
    public var experts: Int
    public var topK: Int
    public var gate: GatingRule
    /// σ of MoE++'s logits norm (logits ÷ std/σ), nil without one.
    public var logitsNormStd: Float?
    /// MoE++'s gating residual: each router adds G·(previous layer's logits).
    public var gatingResidual: Bool
    /// Always-on experts per MoE layer and how each is weighted ("sigmoid gate" or "weight 1").
    public var sharedExperts: Int
    public var sharedExpertWeight: String?
    /// Layers without a router (one dense FFN each).
    public var denseLayers: [Int]

    /// One line: "top-8 of 64: softmax, top-k, not renormalised; shared ×1 always on (sigmoid gate)".
    public var summary: String {
        var parts = ["top-\(topK) of \(experts): \(gate)"]
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
        WeightRule(experts: numExperts, topK: topK, gate: gatingRule, logitsNormStd: useLogitsNorm ? gateNormStd : nil,
                   gatingResidual: hasGatingResidual, sharedExperts: sharedExperts,
                   sharedExpertWeight: sharedExperts == 0 ? nil : sharedExpertGate ? "sigmoid gate" : "weight 1",
                   denseLayers: denseLayers.sorted())
    }
}
