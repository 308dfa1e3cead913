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

    /// Buffers `decide(_:controls:bias:into:scratch:)` works in, kept between tokens so that a
    /// decode step reuses them instead of allocating.
    public struct Scratch {
        /// z: the normalised logits with −∞ for the experts the mask disables.
        var scores: [Float] = []
        /// c: the choice scores (rules that choose on p + bias, or within groups).
        var choice: [Float] = []
        var groupScores: [Float] = []
        var bestGroups: [Int] = []

        public init() {}
    }

    public func normalizedLogits(_ logits: [Float]) -> [Float] {
        var z = logits
        normalize(&z)
        return z
    }

    /// z ← z / (std_{n−1}(z) / σ) in place, when the config normalises logits.
    func normalize(_ z: inout [Float]) {
        guard config.useLogitsNorm, z.count > 1 else { return }
        let mean = z.reduce(0, +) / Float(z.count)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(z.count - 1)
        let std = variance.squareRoot()
        guard std > 0 else { return }
        let scale = config.gateNormStd / std
        for i in z.indices { z[i] *= scale }
    }

    /// `bias`: the layer's score-correction bias, when the rule chooses on score + bias.
    public func decide(_ logits: [Float], controls: RoutingControls, bias: [Float]? = nil) -> Decision {
        var decision = Decision(probabilities: [], chosen: [], weights: [])
        var scratch = Scratch()
        decide(logits, controls: controls, bias: bias, into: &decision, scratch: &scratch)
        return decision
    }

    /// `decide` into buffers the caller keeps: `decision`'s arrays are overwritten (in place when
    /// nothing else holds them), so a decode step allocates nothing here.
    public func decide(_ logits: [Float], controls: RoutingControls, bias: [Float]?, into decision: inout Decision, scratch: inout Scratch) {
        scratch.scores.overwrite(with: logits)
        normalize(&scratch.scores)
        var enabled = 0
        for i in logits.indices {
            if controls.mask.allows(i, kind: config.kind(ofExpert: i)) { enabled += 1 } else { scratch.scores[i] = -.infinity }
        }
        if enabled == 0 {   // a mask that disables every expert is ignored: the gate sees them all
            scratch.scores.overwrite(with: logits)
            normalize(&scratch.scores)
            enabled = logits.count
        }
        decision.probabilities.overwrite(with: scratch.scores)
        switch rule.scores {
        case .softmax: decision.probabilities.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, $0.count) }
        case .sigmoid: for i in decision.probabilities.indices { decision.probabilities[i] = 1 / (1 + expf(-decision.probabilities[i])) }
        }
        let k = min(max(1, controls.topK ?? config.topK), enabled)
        if rule.choiceBias || rule.groups != nil {
            choiceScores(decision.probabilities, masked: scratch.scores, bias: bias, scratch: &scratch)
            Self.topK(scratch.choice, k, into: &decision.chosen)
        } else {
            Self.topK(scratch.scores, k, into: &decision.chosen)
        }
        decision.weights.removeAll(keepingCapacity: true)
        for index in decision.chosen { decision.weights.append(decision.probabilities[index]) }
        if !config.useMixtralGating, let zero = config.zeroExpertIndex {
            for (slot, index) in decision.chosen.enumerated() where index == zero { decision.weights[slot] = 0 }
        }
        if config.normalizeTopK {
            let sum = decision.weights.reduce(0, +)
            for slot in decision.weights.indices { decision.weights[slot] = sum > 0 ? decision.weights[slot] / sum : 0 }
        }
        if rule.scaling != 1 { for slot in decision.weights.indices { decision.weights[slot] *= rule.scaling } }
    }

    /// c = p + b, −∞ where the mask disables an expert; with groups, the experts split into equal
    /// consecutive groups, each scored by its max c or the sum of its top-2, and c ← 0 outside the
    /// best `chosen` groups (0 as the references mask, so a negative c inside a chosen group can
    /// lose to an expert outside it, as it does there).
    func choiceScores(_ probabilities: [Float], masked z: [Float], bias: [Float]?) -> [Float] {
        var scratch = Scratch()
        choiceScores(probabilities, masked: z, bias: bias, scratch: &scratch)
        return scratch.choice
    }

    /// `choiceScores` into `scratch.choice`.
    func choiceScores(_ probabilities: [Float], masked z: [Float], bias: [Float]?, scratch: inout Scratch) {
        scratch.choice.overwrite(with: probabilities)
        if let bias, bias.count == probabilities.count { for i in probabilities.indices { scratch.choice[i] += bias[i] } }
        for i in z.indices where z[i] == -.infinity { scratch.choice[i] = -.infinity }
        let count = scratch.choice.count
        guard let groups = rule.groups, groups.count > 0, count % groups.count == 0 else { return }
        let size = count / groups.count
        scratch.groupScores.removeAll(keepingCapacity: true)
        for g in 0..<groups.count {
            // The best and second best member (what sorting the group descending puts first).
            var (first, second) = (-Float.infinity, -Float.infinity)
            for value in scratch.choice[g * size..<(g + 1) * size] {
                if value > first { (first, second) = (value, first) } else if value > second { second = value }
            }
            switch groups.score {
            case .max: scratch.groupScores.append(first)
            case .sumOfTopTwo: scratch.groupScores.append(size > 1 ? first + second : first)
            }
        }
        Self.topK(scratch.groupScores, groups.chosen, into: &scratch.bestGroups)
        for i in 0..<count where !scratch.bestGroups.contains(i / size) && scratch.choice[i] > -.infinity { scratch.choice[i] = 0 }
    }

    /// Indices of the k largest finite values, largest first; equal values keep index order.
    /// Selecting on logits rather than probabilities keeps masked experts (−∞) out even when
    /// an enabled expert's probability underflows to 0.
    static func topK(_ values: [Float], _ k: Int) -> [Int] {
        var best: [Int] = []
        topK(values, k, into: &best)
        return best
    }

    /// `topK` into `best` (overwritten; its buffer reused when it holds k + 1).
    static func topK(_ values: [Float], _ k: Int, into best: inout [Int]) {
        best.removeAll(keepingCapacity: true)
        best.reserveCapacity(k + 1)
        for i in values.indices where values[i] > -.infinity {
            var slot = best.count
            while slot > 0 && values[best[slot - 1]] < values[i] { slot -= 1 }
            if slot < k {
                best.insert(i, at: slot)
                if best.count > k { best.removeLast() }
            }
        }
    }
}
