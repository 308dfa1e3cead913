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
/// with a seeded generator so that a run is reproducible. Candidates come best first from a
/// partial selection (RankedCandidates), never a sort of the whole vocabulary.
public struct Sampler: Sendable {
    var random: SeededRandom
    // Kept between tokens (their capacity), so drawing allocates nothing in steady state.
    private var order: [Int] = []
    private var probabilities: [Float] = []
    private var heap: [Int] = []

    public init(seed: UInt64) { random = SeededRandom(seed: seed) }

    /// The greedy choice (temperature 0): the position of the largest logit, the first of equals.
    public static func greedy(_ logits: ArraySlice<Float>) -> Int {
        var best = logits.startIndex
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best - logits.startIndex
    }

    public mutating func sample(_ logits: ArraySlice<Float>, _ settings: SamplingSettings) -> Int {
        guard settings.temperature > 0 else { return Self.greedy(logits) }
        let base = logits.startIndex
        let t = settings.temperature
        let top = logits.max()!
        let ranked = RankedCandidates(logits: logits)
        probabilities.removeAll(keepingCapacity: true)
        if settings.topK > 0 {
            // p over the k best only, normalised among them.
            ranked.top(min(settings.topK, logits.count), into: &order)
            var total: Float = 0
            for id in order {
                let p = expf((logits[base + id] - top) / t)
                probabilities.append(p)
                total += p
            }
            for slot in probabilities.indices { probabilities[slot] /= total }
        } else {
            // p over the whole vocabulary; ids leave the heap best first only as far as top-p needs.
            var total: Float = 0
            for z in logits { total += expf((z - top) / t) }
            if settings.topP >= 1 {
                // No truncation: no order is needed either; draw in id order.
                let draw = random.uniform() * total
                var cumulative: Float = 0
                for (id, z) in logits.enumerated() {
                    cumulative += expf((z - top) / t)
                    if draw < cumulative { return id }
                }
                return logits.count - 1
            }
            order.removeAll(keepingCapacity: true)
            ranked.heapOfAll(into: &heap)
            var size = heap.count
            var cumulative: Float = 0
            while let id = ranked.popBest(&heap, size: &size) {
                let p = expf((logits[base + id] - top) / t) / total
                order.append(id)
                probabilities.append(p)
                cumulative += p
                if cumulative >= settings.topP { break }
            }
        }
        var kept = probabilities.count
        if settings.topP < 1 {
            var cumulative: Float = 0
            kept = 0
            while kept < probabilities.count && cumulative < settings.topP { cumulative += probabilities[kept]; kept += 1 }
            kept = max(1, kept)
        }
        var mass: Float = 0
        for slot in 0..<kept { mass += probabilities[slot] }
        let draw = random.uniform() * mass
        var cumulative: Float = 0
        for slot in 0..<kept {
            cumulative += probabilities[slot]
            if draw < cumulative { return order[slot] }
        }
        return order[kept - 1]
    }
}
