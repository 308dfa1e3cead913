import Foundation

/// The MoE++ gate from router logits to chosen experts and weights (moepp-spec, "Router" steps 3–5):
///
///   z ← z / (std_{n−1}(z) / σ)                       (logits norm, if on)
///   z_i ← −∞ for experts the mask disables (a mask that disables every expert is ignored:
///            routing nothing would silently drop the layer; `ExpertMask.check` refuses such a
///            mask before it reaches a generator, so this only keeps the gate total)
///   p = softmax(z);  S = top-k of p (ties: lower index)
///   w_i = p_i for i ∈ S, w_zero ← 0 (default gating), w ← w / Σw  (if renormalising)
///
/// Mixtral gating (softmax over the k chosen logits) equals renormalising the chosen p_i, so both
/// share this path; it only skips the zero-weight rule.
///
/// DeepSeek and LongCat (GatingRule): p may be sigmoid(z); the choice is then made on
/// c = p (+ the layer's score-correction bias), within the best expert groups, and the chosen
/// weights are multiplied by the routed scaling factor after any renormalisation.
public struct Gate: Sendable {
    public let config: ModelConfig
    public let rule: GatingRule

    public init(config: ModelConfig) {
        self.config = config
        rule = config.gatingRule
    }

    public struct Decision: Sendable {
        public var probabilities: [Float]
        public var chosen: [Int]
        public var weights: [Float]
    }

    public func normalizedLogits(_ logits: [Float]) -> [Float] {
        guard config.useLogitsNorm, logits.count > 1 else { return logits }
        let mean = logits.reduce(0, +) / Float(logits.count)
        let variance = logits.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(logits.count - 1)
        let std = variance.squareRoot()
        guard std > 0 else { return logits }
        let scale = config.gateNormStd / std
        return logits.map { $0 * scale }
    }

    /// `bias`: the layer's score-correction bias, when the rule chooses on score + bias.
    public func decide(_ logits: [Float], controls: RoutingControls, bias: [Float]? = nil) -> Decision {
        let unmasked = normalizedLogits(logits)
        var z = unmasked
        var enabled = 0
        for i in z.indices {
            if controls.mask.allows(i, kind: config.kind(ofExpert: i)) { enabled += 1 } else { z[i] = -.infinity }
        }
        if enabled == 0 { z = unmasked; enabled = z.count }
        var probabilities = z
        switch rule.scores {
        case .softmax: probabilities.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, $0.count) }
        case .sigmoid: probabilities = z.map { 1 / (1 + expf(-$0)) }
        }
        let k = min(max(1, controls.topK ?? config.topK), enabled)
        let chosen = rule.choiceBias || rule.groups != nil ? Self.topK(choiceScores(probabilities, masked: z, bias: bias), k) : Self.topK(z, k)
        var weights = chosen.map { probabilities[$0] }
        if !config.useMixtralGating, let zero = config.zeroExpertIndex {
            for (slot, index) in chosen.enumerated() where index == zero { weights[slot] = 0 }
        }
        if config.normalizeTopK {
            let sum = weights.reduce(0, +)
            weights = sum > 0 ? weights.map { $0 / sum } : weights.map { _ in 0 }
        }
        if rule.scaling != 1 { weights = weights.map { $0 * rule.scaling } }
        return Decision(probabilities: probabilities, chosen: chosen, weights: weights)
    }

    /// c = p + b, −∞ where the mask disables an expert; with groups, the experts split into equal
    /// consecutive groups, each scored by its max c or the sum of its top-2, and c ← 0 outside the
    /// best `chosen` groups (0 as the references mask, so a negative c inside a chosen group can
    /// lose to an expert outside it, as it does there).
    func choiceScores(_ probabilities: [Float], masked z: [Float], bias: [Float]?) -> [Float] {
        var c = probabilities
        if let bias, bias.count == c.count { for i in c.indices { c[i] += bias[i] } }
        for i in c.indices where z[i] == -.infinity { c[i] = -.infinity }
        guard let groups = rule.groups, groups.count > 0, c.count % groups.count == 0 else { return c }
        let size = c.count / groups.count
        let groupScores: [Float] = (0..<groups.count).map { g in
            let members = c[g * size..<(g + 1) * size].sorted(by: >)
            switch groups.score {
            case .max: return members[0]
            case .sumOfTopTwo: return members.count > 1 ? members[0] + members[1] : members[0]
            }
        }
        let best = Set(Self.topK(groupScores, groups.chosen))
        for i in c.indices where !best.contains(i / size) && c[i] > -.infinity { c[i] = 0 }
        return c
    }

    /// Indices of the k largest finite values, largest first; equal values keep index order.
    /// Selecting on logits rather than probabilities keeps masked experts (−∞) out even when
    /// an enabled expert's probability underflows to 0.
    static func topK(_ values: [Float], _ k: Int) -> [Int] {
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        for i in values.indices where values[i] > -.infinity {
            var slot = best.count
            while slot > 0 && values[best[slot - 1]] < values[i] { slot -= 1 }
            if slot < k {
                best.insert(i, at: slot)
                if best.count > k { best.removeLast() }
            }
        }
        return best
    }
}
