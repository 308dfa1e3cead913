/// How a family turns a token's router logits into chosen experts and their weights — what Gate
/// does, as a value that routing records and `moepp inspect` carry, so a trace says which rule
/// made its weights:
///   s = softmax(z) or sigmoid(z)                                        (`scores`)
///   c = s + b  (b: the layer's `e_score_correction_bias`; else c = s)    (`choiceBias`)
///   groups: the experts split into G equal groups, each scored by its max c (DeepSeek-V2
///           `group_limited_greedy`) or the sum of its top-2 c (V3 `noaux_tc`); c ← 0 outside the
///           best `chosen` groups (0, as the references do, not −∞)
///   S = top-k of c;  w_i = s_i  (MoE++: w_zero ← 0);  w ← w / Σw if `renormalise`;  w ← w · `scaling`
public struct GatingRule: Sendable, Codable, Equatable, CustomStringConvertible {
    public enum Scores: String, Sendable, Codable { case softmax, sigmoid }

    public struct Groups: Sendable, Codable, Equatable {
        public enum Score: String, Sendable, Codable { case max, sumOfTopTwo }
        public var count: Int
        public var chosen: Int
        public var score: Score
    }

    public var scores: Scores
    public var choiceBias: Bool
    public var groups: Groups?
    /// MoE++'s default gating: a chosen zero expert's weight is 0 before renormalisation.
    public var zeroWeightRule: Bool
    public var renormalise: Bool
    public var scaling: Float

    public var description: String {
        var parts = [scores.rawValue]
        var choice = "top-k" + (choiceBias ? " on score + bias" : "")
        if let groups {
            choice += " within the best \(groups.chosen) of \(groups.count) groups (" + (groups.score == .max ? "group max" : "sum of group top-2") + ")"
        }
        parts.append(choice)
        if zeroWeightRule { parts.append("zero expert's weight → 0") }
        parts.append(renormalise ? "renormalised" : "not renormalised")
        if scaling != 1 { parts.append("× \(scaling)") }
        return parts.joined(separator: ", ")
    }
}

extension ModelConfig {
    /// This model's gating rule (see GatingRule).
    public var gatingRule: GatingRule {
        GatingRule(scores: routerScores, choiceBias: scoreCorrectionBias, groups: expertGroups,
                   zeroWeightRule: !useMixtralGating && zeroExpertIndex != nil, renormalise: normalizeTopK, scaling: routedScalingFactor)
    }
}
