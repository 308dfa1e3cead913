import Foundation
import MoEKit

/// Per layer: share of routed slots per expert kind and FFN experts per token, for the whole
/// session and for the last reply.
public enum StatisticsView {
    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        grid.box(rect, title: "Layers · slot shares · FFN experts/token")
        let area = rect.inner
        guard area.height >= 2 else { return }
        let session = state.sessionStatistics, reply = state.replyStatistics
        let cached = state.cacheDescription != nil
        grid.put("layer   FFN    Z     C     K    ffn/tok  reply" + (cached ? "   hit  guess" : ""), row: area.y, column: area.x, style: Style(.muted), limit: area.width)
        let layers = min(state.config.numLayers, area.height - 1)
        for layer in 0..<layers {
            let y = area.y + 1 + layer
            var x = area.x
            x += grid.put("L\(layer)".padding(6), row: y, column: x, style: Style(.muted))
            for (kind, color) in [(RoutingStatistics.Kind.ffn, Color.ffn), (.zero, .zero), (.copy, .copy), (.constant, .constant)] {
                x += grid.put(String(format: "%4.0f%% ", session.share(layer: layer, kind) * 100), row: y, column: x, style: Style(color))
            }
            x += grid.put(String(format: "  %4.2f", session.meanFFN(layer: layer)), row: y, column: x, style: Style(bold: true))
            x += grid.put(reply.tokens > 0 ? String(format: "   %4.2f", reply.meanFFN(layer: layer)) : "      —", row: y, column: x)
            if cached {
                // Session cache hit rate and prefetch-guess accuracy for this layer.
                let traffic = session.cache[layer]
                let hit = traffic.requests > 0 ? String(format: "  %3.0f%%", traffic.hitRate * 100) : "     —"
                let guess = session.predictionAccuracy(layer: layer).map { String(format: "  %3.0f%%", $0 * 100) } ?? "     —"
                grid.put(hit + guess, row: y, column: x, style: Style(.good), limit: max(0, area.x + area.width - x))
            }
        }
    }
}

/// Prompt and decode speed, a sparkline of per-token decode rates, and FFN compute against a
/// vanilla top-k MoE.
public enum ThroughputView {
    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        grid.box(rect, title: "Throughput")
        let area = rect.inner
        guard area.height >= 3 else { return }
        // While streaming: the mean of the last 16 tokens; afterwards: the whole reply's rate.
        let recent = state.rateHistory.suffix(16)
        let decode = state.generating && !recent.isEmpty ? recent.reduce(0, +) / Double(recent.count) : state.decodeTokensPerSecond
        grid.put(String(format: "prompt %.0f tok/s   decode %.1f tok/s %@", state.promptTokensPerSecond, decode, state.generating ? "(live)" : "(last reply)"),
                 row: area.y, column: area.x, style: Style(bold: true), limit: area.width)
        let width = max(1, area.width - 2)
        let history = Array(state.rateHistory.suffix(width))
        if let top = history.max(), top > 0 {
            let levels = grid.glyphs.sparkline
            let line = history.map { levels[min(levels.count - 1, Int($0 / top * Double(levels.count - 1)))] }.joined()
            grid.put(line, row: area.y + 1, column: area.x, style: Style(.good))
        } else {
            grid.put("(decode rate per token appears here)", row: area.y + 1, column: area.x, style: Style(.muted))
        }
        grid.put(savedLine(state.sessionStatistics), row: area.y + 2, column: area.x, limit: area.width)
        if area.height >= 4, let description = state.cacheDescription {
            let traffic = state.sessionStatistics.cacheTotal
            let tokens = max(1, state.sessionStatistics.tokens)
            grid.put(String(format: "cache %@: hit %.0f%% · per token %.2f reads, %.2f MB",
                            description, traffic.hitRate * 100, Double(traffic.misses) / Double(tokens), Double(traffic.bytesRead) / 1e6 / Double(tokens)),
                     row: area.y + 3, column: area.x, style: Style(.muted), limit: area.width)
        } else if area.height >= 4 {
            grid.put("\(state.tokens.count) tokens in the session, \(state.generatedTokens) generated", row: area.y + 3, column: area.x, style: Style(.muted), limit: area.width)
        }
    }

    /// FFN experts run against a vanilla MoE with the same k per token (`RoutingStatistics.vanillaFFN`).
    static func savedLine(_ statistics: RoutingStatistics) -> String {
        guard let vanilla = statistics.meanVanillaFFN, let saved = statistics.savedFFNShare else {
            return "FFN compute saved vs a vanilla top-k MoE: — (no tokens yet)"
        }
        // One k throughout reads "top-2"; replies with different k read as their mean.
        let name = vanilla == vanilla.rounded() ? String(format: "vanilla top-%.0f", vanilla) : String(format: "vanilla (mean %.2f)", vanilla)
        return String(format: "FFN experts/token/layer %.2f vs %.2f for %@: %.0f%% FFN compute saved", statistics.meanFFN, vanilla, name, saved * 100)
    }
}
