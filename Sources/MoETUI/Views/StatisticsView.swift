import Foundation
import MoEKit

/// Per layer: share of routed slots per expert kind (only the kinds the model has; none for a
/// vanilla MoE, where every slot is an FFN), FFN experts per token for the session and the last
/// reply, with an expert cache its hit rate and prefetch accuracy, then the busiest expert and a
/// per-expert load strip (`LoadStrip`). Keeps the selected layer in view when not all fit.
public enum StatisticsView {
    /// The slot-share columns this model can fill: FFN and each zero-computation kind it has.
    static func shareColumns(_ config: ModelConfig) -> [(kind: ExpertKind.Category, name: String, color: Color)] {
        guard config.hasZeroComputationExperts else { return [] }
        let categories = config.expertCategories
        var columns: [(kind: ExpertKind.Category, name: String, color: Color)] = [(.ffn, "FFN", .ffn)]
        if categories.contains(.zero) { columns.append((.zero, "Z", .zero)) }
        if categories.contains(.copy) { columns.append((.copy, "C", .copy)) }
        if categories.contains(.constant) { columns.append((.constant, "K", .constant)) }
        return columns
    }

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        let config = state.config
        let columns = shareColumns(config)
        let rows = max(0, rect.inner.height - 1)
        let first = RoutingMapView.firstLayer(state, rows: rows)
        let shownLayers = min(config.numLayers - first, rows)
        let range = shownLayers < config.numLayers ? " L\(first)–\(first + shownLayers - 1) of \(config.numLayers)" : ""
        grid.box(rect, title: "Layers\(range) · " + (columns.isEmpty ? "" : "slot shares · ") + "FFN experts/token · load per expert")
        let area = rect.inner
        guard area.height >= 2 else { return }
        let session = state.sessionStatistics, reply = state.replyStatistics
        let cached = state.cacheDescription != nil
        let nameWidth = (0..<config.numExperts).map { config.kind(ofExpert: $0).description.count }.max() ?? 0
        var header = "layer "
        for column in columns { header += column.name.leftPadded(5) + " " }
        header += "ffn/tok  reply" + (cached ? "   hit  guess" : "") + "  " + "busiest".padding(nameWidth + 5)
        let stripX = area.x + DisplayWidth.of(header)
        let stripWidth = area.x + area.width - stripX
        let perCell = LoadStrip.perCell(experts: config.numExperts, width: stripWidth)
        // The strip's key, as long as fits over it.
        let even = grid.glyphs.sparkline[2]
        let keys = perCell > 1 ? ["max of \(perCell)/cell, \(even) even", "\(perCell)/cell \(even) even", "\(even) even"] : ["\(even) = even share", "\(even) even"]
        if stripWidth >= 4, let key = keys.first(where: { DisplayWidth.of($0) <= stripWidth }) { header += key }
        grid.put(header, row: area.y, column: area.x, style: Style(.muted), limit: area.width)
        for row in 0..<shownLayers {
            let layer = first + row
            let y = area.y + 1 + row
            var x = area.x
            x += grid.put("L\(layer)".padding(6), row: y, column: x, style: Style(.muted, bold: layer == state.selectedLayer))
            for column in columns {
                x += grid.put(String(format: "%4.0f%% ", session.share(layer: layer, column.kind) * 100), row: y, column: x, style: Style(column.color))
            }
            x += grid.put(String(format: "  %4.2f", session.meanFFN(layer: layer)), row: y, column: x, style: Style(bold: true))
            x += grid.put(reply.tokens > 0 ? String(format: "   %4.2f", reply.meanFFN(layer: layer)) : "      —", row: y, column: x)
            if cached {
                // Session cache hit rate and prefetch-guess accuracy for this layer.
                let traffic = session.cache[layer]
                let hit = traffic.requests > 0 ? String(format: "  %3.0f%%", traffic.hitRate * 100) : "     —"
                let guess = session.predictionAccuracy(layer: layer).map { String(format: "  %3.0f%%", $0 * 100) } ?? "     —"
                x += grid.put(hit + guess, row: y, column: x, style: Style(.good), limit: max(0, area.x + area.width - x))
            }
            let loads = session.relativeLoad(layer: layer)
            guard !loads.isEmpty, x < stripX else {
                if config.isDense(layer: layer) { grid.put("  dense: no router", row: y, column: x, style: Style(.muted), limit: max(0, area.x + area.width - x)) }
                continue
            }
            // The busiest expert and its share of the layer's routed slots.
            let busiest = loads.indices.max { loads[$0] < loads[$1] }!
            let share = loads[busiest] / Double(loads.count)
            grid.put("  " + config.kind(ofExpert: busiest).description.padding(nameWidth) + String(format: "%3.0f%%", share * 100),
                     row: y, column: x, style: Style(ExpertGlyph.color(config.kind(ofExpert: busiest))), limit: max(0, stripX - x))
            guard stripWidth >= 4 else { continue }
            var cellX = stripX
            for cell in LoadStrip(loads, width: stripWidth, glyphs: grid.glyphs).cells {
                cellX += grid.put(cell.text, row: y, column: cellX, style: cell.style, limit: area.x + area.width - cellX)
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
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
