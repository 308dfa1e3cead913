import Foundation
import MoEKit

/// The statistics screen over the whole body: the expert-usage heat map (layers × experts, one
/// column per expert, scrolled to keep the selected one in view, so 64–128 experts stay
/// legible), next-layer predictability beside each layer, and for the selected layer × expert its
/// usage, the experts it fires with and the tokens it fires on most. Shades say the share
/// relative to the map's largest (` ░▒▓█`, `·` never chosen); numbers say the rest.
public enum RoutingStatisticsScreen {
    static let labelWidth = 5
    static let predictabilityWidth = 14
    static let detailHeight = 6

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState, _ screen: RoutingStatisticsScreenState) {
        grid.fill(rect)
        let computed = screen.cache.trace(state)
        let trace = computed.trace
        let accumulated = screen.scope == .accumulated
        let usage = accumulated ? (screen.accumulated?.usage ?? ExpertUsage(layers: 0, experts: 0)) : computed.usage
        let tokens = accumulated ? usage.totalTokens : trace.tokens.count
        let scopeName = accumulated ? "accumulated on disk (\(screen.accumulated?.traces.count ?? 0) traces)" : state.traceSource == .moepp && !state.readOnly ? "this session" : "this trace"
        grid.box(rect, title: "Routing statistics · \(state.modelName) · \(scopeName) · \(tokens) tokens · Tab scope · arrows select · Esc", focused: true)
        let area = rect.inner
        guard area.height >= 10, area.width >= 40 else { return }
        let experts = max(usage.experts, state.config.numExperts), layers = max(usage.layers, state.config.numLayers)
        let k = state.config.topK
        let shades = grid.glyphs.isUnicode ? ["·", "░", "▒", "▓", "█"] : [".", "-", "+", "*", "#"]
        let top = usage.maximumShare
        grid.put(String(format: "Usage: share of tokens choosing each expert (uniform %.1f%%) · %@ never · %@ up to %.1f%%",
                        Double(k) / Double(max(1, experts)) * 100, shades[0], shades[1...].joined(), top * 100),
                 row: area.y, column: area.x, style: Style(.muted), limit: area.width)
        // A store with no trace yet reads as nothing accumulated, not as an empty heat map.
        if accumulated && screen.accumulated?.traces.isEmpty ?? true {
            grid.put(screen.accumulatedProblem ?? "nothing accumulated for \(state.modelName) yet: quitting the playground or `moepp stats TRACE` adds to it",
                     row: area.y + 2, column: area.x, style: Style(screen.accumulatedProblem == nil ? .muted : .error), limit: area.width)
            return
        }
        // Columns: few experts get wider cells; many get one column each, in a window that
        // follows the selection.
        let room = max(1, area.width - labelWidth - predictabilityWidth)
        let cell = max(1, min(3, room / max(1, experts)))
        let columns = room / cell
        let firstExpert = experts <= columns ? 0 : max(0, min(experts - columns, screen.expert - columns / 2))
        let shownExperts = min(columns, experts - firstExpert)
        let mapWidth = shownExperts * cell
        let heatRows = max(1, min(layers, area.height - 2 - detailHeight))
        let firstLayer = layers <= heatRows ? 0 : max(0, min(layers - heatRows, screen.layer - heatRows / 2))
        grid.put(header(state, firstExpert: firstExpert, shown: shownExperts, cell: cell), row: area.y + 1, column: area.x + labelWidth, style: Style(.muted))
        let window = experts > columns ? "\(firstExpert)…\(firstExpert + shownExperts - 1) of \(experts)" : "next layer"
        grid.put(window, row: area.y + 1, column: area.x + labelWidth + mapWidth + 1, style: Style(.muted), limit: predictabilityWidth - 1)
        let predictability = computed.predictability
        func level(_ fraction: Double) -> (String, Color) {
            let level = fraction <= 0 ? 0 : max(1, min(4, Int((fraction * 4).rounded(.up))))
            return (String(repeating: shades[level], count: max(1, cell - 1)) + (cell > 1 ? " " : ""), level == 0 ? .muted : level <= 2 ? .cool : level == 3 ? .warm : .hot)
        }
        for row in 0..<min(heatRows, layers - firstLayer) {
            let l = firstLayer + row, y = area.y + 2 + row
            grid.put("L\(l)", row: y, column: area.x, style: Style(.muted, bold: l == screen.layer))
            guard l < usage.layers else { continue }
            for offset in 0..<shownExperts {
                let e = firstExpert + offset
                let (glyph, color) = level(e < usage.experts && top > 0 ? usage.share(layer: l, expert: e) / top : 0)
                grid.put(glyph, row: y, column: area.x + labelWidth + offset * cell, style: Style(color, reverse: l == screen.layer && e == screen.expert))
            }
            if !accumulated, l < predictability.count, predictability[l].tokens > 0 {
                grid.put(String(format: "→L%d %3.0f%%", l + 1, predictability[l].predictability * 100), row: y,
                         column: area.x + labelWidth + mapWidth + 1, style: Style(.good), limit: predictabilityWidth - 1)
            }
        }
        // With room to spare (few experts), the selected layer's co-activation matrix under the map.
        let matrixTop = area.y + 3 + heatRows
        if !accumulated, experts <= columns, matrixTop + 1 + experts <= area.y + area.height - detailHeight {
            let matrix = screen.cache.coActivation(trace, layer: screen.layer)
            let most = Double(matrix.maximumPair)
            grid.put("Co-activation at layer \(screen.layer): tokens choosing both (shade relative to the commonest pair, \(Int(most)) tokens)",
                     row: matrixTop, column: area.x, style: Style(.muted), limit: area.width)
            for i in 0..<min(experts, matrix.together.count) {
                let y = matrixTop + 1 + i
                let kind = state.config.kind(ofExpert: min(i, state.config.numExperts - 1))
                grid.put((kind.isFFN ? "" : ExpertGlyph.glyph(kind)) + "\(i)", row: y, column: area.x, style: Style(.muted, bold: i == screen.expert))
                for j in 0..<min(experts, matrix.together.count) {
                    let (glyph, color) = i == j ? (String(repeating: grid.glyphs.isUnicode ? "╲" : "\\", count: max(1, cell - 1)) + (cell > 1 ? " " : ""), Color.muted)
                        : level(most > 0 ? Double(matrix.together[i][j]) / most : 0)
                    grid.put(glyph, row: y, column: area.x + labelWidth + j * cell, style: Style(color, reverse: i == screen.expert && j == screen.expert))
                }
            }
        }
        drawDetail(into: &grid, Rect(x: area.x, y: area.y + area.height - detailHeight, width: area.width, height: detailHeight),
                   state, screen, trace: trace, usage: usage, predictability: predictability)
    }

    /// Expert numbers over the columns (every one with wide cells, else every tenth), kind glyphs
    /// for zero-computation experts.
    static func header(_ state: PlaygroundState, firstExpert: Int, shown: Int, cell: Int) -> String {
        var header = Array(repeating: Character(" "), count: shown * cell)
        for offset in 0..<shown {
            let e = firstExpert + offset
            let label = e < state.config.numExperts && !state.config.kind(ofExpert: e).isFFN ? ExpertGlyph.glyph(state.config.kind(ofExpert: e))
                : cell >= 3 || e % 10 == 0 ? String(e) : ""
            for (i, c) in label.enumerated() where offset * cell + i < header.count && (header[offset * cell + i] == " " || i == 0) { header[offset * cell + i] = c }
        }
        return String(header)
    }

    /// The selected layer × expert: usage, partners, top tokens, predictability into the next layer.
    static func drawDetail(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState, _ screen: RoutingStatisticsScreenState,
                           trace: RoutingTrace, usage: ExpertUsage, predictability: [NextLayerPredictability.Pair]) {
        let l = screen.layer, e = screen.expert
        let name = { (index: Int) in index < state.config.numExperts ? state.config.kind(ofExpert: index).description : "expert\(index)" }
        let rule = String(repeating: grid.glyphs.horizontal, count: rect.width)
        grid.put(rule, row: rect.y, column: rect.x, style: Style(.muted))
        grid.put(" layer \(l) · \(name(e)) ", row: rect.y, column: rect.x + 2, style: Style(.accent, bold: true))
        var lines: [(String, Style)] = []
        if l < usage.layers, e < usage.experts {
            lines.append((String(format: "chosen by %d of %d tokens (%.1f%%; uniform %.1f%%)", usage.counts[l][e], usage.tokens[l],
                                 usage.share(layer: l, expert: e) * 100, Double(state.config.topK) / Double(max(1, usage.experts)) * 100), Style(bold: true)))
        } else {
            lines.append(("no tokens reached this layer", Style(.muted)))
        }
        if screen.scope == .accumulated {
            lines.append(("the heat map on disk keeps counts only: partners, top tokens and predictability are for the tokens on screen (Tab)", Style(.muted)))
        }
        let coActivation = screen.cache.coActivation(trace, layer: l)
        if e < coActivation.together.count {
            let partners = coActivation.partners(of: e, limit: 6).map { p in
                name(p.expert) + " \(p.tokens)" + (coActivation.lift(e, p.expert).map { String(format: " (lift %.1f)", $0) } ?? "")
            }
            lines.append(("fires with: " + (partners.isEmpty ? "—" : partners.joined(separator: " · ")), Style()))
        }
        let top = screen.cache.topTokens(trace, layer: l, expert: e, limit: 8).entries.map { entry in
            "\"\(entry.token.replacingOccurrences(of: "\n", with: "⏎"))\" \(entry.count)/\(entry.of)"
        }
        lines.append((trace.hasTokenText || trace.hasTokenIds ? "top tokens: " + (top.isEmpty ? "—" : top.joined(separator: " · "))
                                                              : "top tokens: this trace has neither token text nor ids", Style()))
        if l < predictability.count, predictability[l].tokens > 0 {
            let pair = predictability[l]
            lines.append((String(format: "L%d → L%d: this layer's top-1 predicts the next's for %.1f%% of tokens (without it: %.1f%%)",
                                 l, l + 1, pair.predictability * 100, pair.baseline * 100), Style(.good)))
        }
        for (i, line) in lines.prefix(rect.height - 1).enumerated() {
            grid.put(line.0, row: rect.y + 1 + i, column: rect.x, style: line.1, limit: rect.width)
        }
    }
}
