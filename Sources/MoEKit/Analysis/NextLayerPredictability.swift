/// How well layer l's choice predicts layer l+1's. With a = the token's top-1 expert at layer l
/// (its first chosen slot: the router's highest-scoring choice) and b = its top-1 at layer l+1,
/// count n(a, b) over the tokens that reached both layers (N of them). The best guess for b given
/// a is the b most often seen after a, so
///   predictability(l) = Σ_a max_b n(a, b) / N,
/// the top-1 conditional frequency P(b | a) of that guess, averaged over tokens — the share of
/// tokens whose next-layer choice the previous layer's choice alone would have guessed (measured
/// in-sample). The baseline guesses without looking at layer l: max_b n(b) / N. A layer without a
/// router (dense) or a token with no choice there is left out of the pair.
public struct NextLayerPredictability: Codable, Sendable, Equatable {
    public struct Pair: Codable, Sendable, Equatable {
        public let layer: Int
        public let tokens: Int
        public let predictability: Double
        public let baseline: Double
    }

    /// One entry per layer l that has a next layer: l → l+1.
    public let pairs: [Pair]

    public init(_ trace: RoutingTrace) {
        pairs = (0..<max(0, trace.layers - 1)).map { Self.pair(trace, layer: $0) }
    }

    static func pair(_ trace: RoutingTrace, layer l: Int) -> Pair {
        var joint: [Int: [Int: Int]] = [:]
        var next: [Int: Int] = [:]
        var tokens = 0
        for token in trace.tokens where l + 1 < token.layers.count {
            guard let a = token.layers[l].chosen.first?.index, let b = token.layers[l + 1].chosen.first?.index else { continue }
            joint[a, default: [:]][b, default: 0] += 1
            next[b, default: 0] += 1
            tokens += 1
        }
        guard tokens > 0 else { return Pair(layer: l, tokens: 0, predictability: 0, baseline: 0) }
        let hits = joint.values.reduce(0) { $0 + ($1.values.max() ?? 0) }
        return Pair(layer: l, tokens: tokens, predictability: Double(hits) / Double(tokens),
                    baseline: Double(next.values.max() ?? 0) / Double(tokens))
    }
}
