/// Which experts fire together at one layer: for experts i ≠ j,
///   together[i][j] = number of tokens whose chosen set at the layer holds both i and j,
/// and on the diagonal together[i][i] = tokens that chose i (its usage). Lift compares a pair
/// with chance: lift(i, j) = together[i][j] · N / (together[i][i] · together[j][j]), 1 when the two
/// choices are independent, N the tokens that reached the layer.
public struct CoActivation: Codable, Sendable, Equatable {
    public let layer: Int
    public private(set) var together: [[Int]]
    public private(set) var tokens = 0

    public init(_ trace: RoutingTrace, layer: Int) {
        self.layer = layer
        together = Array(repeating: Array(repeating: 0, count: trace.experts), count: trace.experts)
        for token in trace.tokens where layer < token.layers.count {
            tokens += 1
            let chosen = Set(token.layers[layer].chosen.map(\.index).filter { $0 >= 0 && $0 < trace.experts })
            for i in chosen { for j in chosen { together[i][j] += 1 } }
        }
    }

    public func lift(_ i: Int, _ j: Int) -> Double? {
        let a = together[i][i], b = together[j][j]
        guard a > 0, b > 0 else { return nil }
        return Double(together[i][j]) * Double(tokens) / (Double(a) * Double(b))
    }

    /// The experts that fire most often with `expert`, most first (ties: lower index first).
    public func partners(of expert: Int, limit: Int) -> [(expert: Int, tokens: Int)] {
        together[expert].indices.filter { $0 != expert && together[expert][$0] > 0 }
            .sorted { (together[expert][$0], -$0) > (together[expert][$1], -$1) }
            .prefix(limit).map { ($0, together[expert][$0]) }
    }

    /// The largest off-diagonal count (what a plot's darkest colour means).
    public var maximumPair: Int {
        together.indices.flatMap { i in together.indices.filter { $0 != i }.map { together[i][$0] } }.max() ?? 0
    }
}
