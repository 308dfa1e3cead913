import Foundation

/// How the next token is drawn from the logits. temperature 0 is greedy (argmax).
public struct SamplingSettings: Hashable, Sendable {
    public var temperature: Float = 0
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP: Float = 1
    public var seed: UInt64 = 0

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }
}

/// Draws tokens: p = softmax(logits / T), restricted to top-k then top-p, renormalised, sampled
/// with a seeded generator so that a run is reproducible.
public struct Sampler: Sendable {
    var random: SeededRandom

    public init(seed: UInt64) { random = SeededRandom(seed: seed) }

    public mutating func sample(_ logits: ArraySlice<Float>, _ settings: SamplingSettings) -> Int {
        let base = logits.startIndex
        guard settings.temperature > 0 else {
            var best = base
            for i in logits.indices where logits[i] > logits[best] { best = i }
            return best - base
        }
        var order = Array(0..<logits.count)
        order.sort { logits[base + $0] > logits[base + $1] }
        if settings.topK > 0 { order = Array(order.prefix(settings.topK)) }
        let top = logits[base + order[0]]
        var probabilities = order.map { expf((logits[base + $0] - top) / settings.temperature) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        if settings.topP < 1 {
            var cumulative: Float = 0
            var keep = 0
            while keep < probabilities.count && cumulative < settings.topP { cumulative += probabilities[keep]; keep += 1 }
            order = Array(order.prefix(max(1, keep)))
            probabilities = Array(probabilities.prefix(max(1, keep)))
        }
        let draw = random.uniform() * probabilities.reduce(0, +)
        var cumulative: Float = 0
        for (slot, p) in probabilities.enumerated() {
            cumulative += p
            if draw < cumulative { return order[slot] }
        }
        return order[probabilities.count - 1]
    }
}
