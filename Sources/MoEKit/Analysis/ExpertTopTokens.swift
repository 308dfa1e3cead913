/// The tokens an expert fires on most: among the tokens whose router chose expert e at layer l,
/// grouped by token (its text, or `#id` when the trace has ids but no text), the most frequent
/// first; `of` is how often that token occurs in the trace at all, so `count / of` says whether
/// the expert takes that token every time or now and then.
public struct ExpertTopTokens: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public let token: String
        public let count: Int
        public let of: Int
    }

    public let layer: Int
    public let expert: Int
    public let entries: [Entry]

    /// The name a token is grouped by, or nil when the trace has neither text nor ids.
    public static func key(_ token: TokenRouting) -> String? {
        if !token.text.isEmpty { return token.text }
        return token.tokenId >= 0 ? "#\(token.tokenId)" : nil
    }

    public init(_ trace: RoutingTrace, layer: Int, expert: Int, limit: Int = 10) {
        self.layer = layer
        self.expert = expert
        var fired: [String: Int] = [:], seen: [String: Int] = [:]
        for token in trace.tokens {
            guard let key = Self.key(token) else { continue }
            seen[key, default: 0] += 1
            if layer < token.layers.count, token.layers[layer].chosen.contains(where: { $0.index == expert }) { fired[key, default: 0] += 1 }
        }
        entries = fired.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(limit).map { Entry(token: $0.key, count: $0.value, of: seen[$0.key] ?? 0) }
    }
}
