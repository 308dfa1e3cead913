import Foundation

/// Everything `moepp stats` prints, computed once from the traces: the usage heat map (of these
/// traces, and accumulated on disk when a store is given), next-layer predictability, one
/// layer's co-activation matrix and, for each expert of that layer, the tokens it fires on most.
public struct RoutingStatisticsReport: Encodable, Sendable {
    public struct Carries: Encodable, Sendable {
        public let probabilities: Bool, weights: Bool, tokenText: Bool, tokenIds: Bool, zeroComputationKinds: Bool
    }

    public struct Accumulated: Encodable, Sendable {
        public let file: String
        public let traces: Int
        public let usage: ExpertUsage
        public init(file: String, traces: Int, usage: ExpertUsage) { self.file = file; self.traces = traces; self.usage = usage }
    }

    public let sources: [RoutingTrace.Source]
    public let model: String
    public let tokens: Int
    public let layers: Int
    public let experts: Int
    public let topK: Int
    public let carries: Carries
    public let usage: ExpertUsage
    public let predictability: NextLayerPredictability
    public let coActivation: CoActivation
    public let topTokens: [ExpertTopTokens]
    public var accumulated: Accumulated?

    /// The traces as one (their tokens in order); `layer` picks the co-activation layer.
    public init(_ traces: [RoutingTrace], layer: Int, topTokens limit: Int = 5) {
        let merged = Self.merge(traces)
        sources = Array(Set(traces.map(\.source))).sorted { $0.rawValue < $1.rawValue }
        model = merged.model
        tokens = merged.tokens.count
        layers = merged.layers
        experts = merged.experts
        topK = merged.topK
        carries = Carries(probabilities: merged.hasProbabilities, weights: merged.hasWeights, tokenText: merged.hasTokenText,
                          tokenIds: merged.hasTokenIds, zeroComputationKinds: merged.hasZeroComputationKinds)
        usage = ExpertUsage(merged)
        predictability = NextLayerPredictability(merged)
        coActivation = CoActivation(merged, layer: layer)
        topTokens = (0..<merged.experts).map { ExpertTopTokens(merged, layer: layer, expert: $0, limit: limit) }
    }

    /// Several traces of one model read as one: tokens in order, the widest expert count.
    public static func merge(_ traces: [RoutingTrace]) -> RoutingTrace {
        guard let first = traces.first else { return RoutingTrace(source: .moepp, model: "", tokens: []) }
        return RoutingTrace(source: first.source, model: traces.first { !$0.model.isEmpty }?.model ?? "",
                            turns: traces.flatMap(\.turns), tokens: traces.flatMap(\.tokens), experts: traces.map(\.experts).max())
    }

    /// The report as text for a terminal, `width` columns for the heat map.
    public func text(width: Int = 100) -> String {
        var lines: [String] = []
        lines.append("\(model.isEmpty ? "(model not named)" : model) · \(sources.map(\.rawValue).joined(separator: ", ")) · \(tokens) tokens · \(layers) layers × \(experts) experts · top-\(topK)")
        var missing: [String] = []
        if !carries.probabilities { missing.append("probabilities") }
        if !carries.weights { missing.append("weights") }
        if !carries.zeroComputationKinds { missing.append("zero-computation kinds") }
        if !carries.tokenText { missing.append(carries.tokenIds ? "token text (ids only)" : "token text or ids") }
        if !missing.isEmpty { lines.append("not in these traces: " + missing.joined(separator: ", ")) }
        lines.append("")
        lines.append("Expert usage: share of tokens choosing each expert (uniform: \(String(format: "%.1f%%", experts > 0 ? Double(topK) / Double(experts) * 100 : 0)))")
        lines += Self.heatRows(usage, width: width)
        if let accumulated {
            lines.append("")
            lines.append("Accumulated for this model: \(accumulated.usage.totalTokens) tokens over \(accumulated.traces) traces (\(accumulated.file))")
            lines += Self.heatRows(accumulated.usage, width: width)
        }
        lines.append("")
        lines.append("Next-layer predictability (layer l's top-1 → layer l+1's top-1; baseline: l+1's most common top-1)")
        for pair in predictability.pairs {
            lines.append(String(format: "  L%-3d → L%-3d %5.1f%%   baseline %5.1f%%   (%d tokens)", pair.layer, pair.layer + 1, pair.predictability * 100, pair.baseline * 100, pair.tokens))
        }
        lines.append("")
        lines.append("Layer \(coActivation.layer): experts, their usage, the partners they fire with most, and their top tokens")
        for e in 0..<experts where coActivation.together[e][e] > 0 {
            let partners = coActivation.partners(of: e, limit: 3).map { "\($0.expert)×\($0.tokens)" }.joined(separator: " ")
            let tokens = topTokens[e].entries.map { "\(Self.quoted($0.token)) \($0.count)/\($0.of)" }.joined(separator: "  ")
            lines.append(String(format: "  %3d  %5d  ", e, coActivation.together[e][e]) + partners.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + tokens)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per layer; each expert a shade (` ░▒▓█` relative to the map's largest share).
    static func heatRows(_ usage: ExpertUsage, width: Int) -> [String] {
        let shades: [Character] = [" ", "░", "▒", "▓", "█"]
        let top = usage.maximumShare
        let perLine = max(8, width - 8)
        var lines: [String] = []
        for start in stride(from: 0, to: max(1, usage.experts), by: perLine) {
            let end = min(usage.experts, start + perLine)
            if usage.experts > perLine { lines.append("  experts \(start)…\(end - 1)") }
            for l in 0..<usage.layers {
                let row = (start..<end).map { e -> Character in
                    let share = usage.share(layer: l, expert: e)
                    return share == 0 ? "·" : shades[max(1, min(4, Int((share / top * 4).rounded(.up))))]
                }
                lines.append("  L\(l)".padding(toLength: 7, withPad: " ", startingAt: 0) + String(row))
            }
        }
        return lines
    }

    static func quoted(_ token: String) -> String {
        "\"" + token.replacingOccurrences(of: "\n", with: "⏎").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
