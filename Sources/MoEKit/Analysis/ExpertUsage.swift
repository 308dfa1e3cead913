/// The expert-usage heat map: for each layer l and router slot e,
///   count[l][e] = number of tokens whose router chose e at layer l
/// (every chosen slot counts, zero-weight and adaptively dropped ones included: it is the
/// router's choice being counted, not the compute). share = count[l][e] / tokens[l]; with top-k
/// routing the shares of a layer sum to k, and a perfectly balanced router gives each expert k/E.
public struct ExpertUsage: Codable, Sendable, Equatable {
    public private(set) var counts: [[Int]]
    /// Tokens seen per layer (a layer a token did not reach is not counted for it).
    public private(set) var tokens: [Int]

    public init(layers: Int, experts: Int) {
        counts = Array(repeating: Array(repeating: 0, count: experts), count: layers)
        tokens = Array(repeating: 0, count: layers)
    }

    public init(_ trace: RoutingTrace) {
        self.init(layers: trace.layers, experts: trace.experts)
        for token in trace.tokens { add(token) }
    }

    public var layers: Int { counts.count }
    public var experts: Int { counts.first?.count ?? 0 }
    public var totalTokens: Int { tokens.max() ?? 0 }

    public mutating func add(_ token: TokenRouting) {
        for (l, layer) in token.layers.enumerated() where l < counts.count {
            tokens[l] += 1
            for choice in layer.chosen where choice.index >= 0 && choice.index < counts[l].count { counts[l][choice.index] += 1 }
        }
    }

    /// Adds another heat map of the same model; the map grows to the larger shape (an imported
    /// trace knows only the experts it saw).
    public mutating func merge(_ other: ExpertUsage) {
        let width = max(experts, other.experts)
        counts = (0..<max(layers, other.layers)).map { l in
            (l < layers ? counts[l] : []) + Array(repeating: 0, count: width - (l < layers ? experts : 0))
        }
        tokens += Array(repeating: 0, count: counts.count - tokens.count)
        for l in 0..<other.layers {
            tokens[l] += other.tokens[l]
            for e in 0..<other.experts { counts[l][e] += other.counts[l][e] }
        }
    }

    public func share(layer: Int, expert: Int) -> Double {
        tokens[layer] > 0 ? Double(counts[layer][expert]) / Double(tokens[layer]) : 0
    }

    /// The largest share in the map (what a plot's darkest colour means).
    public var maximumShare: Double {
        (0..<layers).flatMap { l in (0..<experts).map { share(layer: l, expert: $0) } }.max() ?? 0
    }
}
