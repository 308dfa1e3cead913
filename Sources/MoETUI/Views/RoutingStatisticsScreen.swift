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
        let trace = RoutingStatisticsScreenState.trace(state)
        let accumulated = screen.scope == .accumulated
        let usage = accumulated ? (screen.accumulated?.usage ?? ExpertUsage(layers: 0, experts: 0)) : ExpertUsage(trace)
        let tokens = accumulated ? usage.totalTokens : trace.tokens.count
        let scopeName = accumulated ? "accumulated on disk (\(screen.accumulated?.traces.count ?? 0) traces)" : state.traceSource == .moepp && !state.readOnly ? "this session" : "this trace"
        grid.box(rect, title: "Routing statistics · \(state.modelName) · \(scopeName) · \(tokens) tokens · Tab: session/accumulated · arrows: layer/expert · Esc closes", focused: true)
        let area = rect.inner
        guard area.height >= 10, area.width >= 40 else { return }
        let experts = max(usage.experts, state.config.numExperts), layers = max(usage.layers, state.config.numLayers)
        let k = state.config.topK
        let shades = grid.glyphs.isUnicode ? ["·", "░", "▒", "▓", "█"] : [".", "-", "+", "*", "#"]
        let top = usage.maximumShare
        grid.put(String(format: "Expert usage: share of tokens choosing each expert · uniform top-%d of %d: %.1f%% · %@ never, %@ up to %.1f%%", k, experts,
                        Double(k) / Double(max(1, experts)) * 100, shades[0], shades[1...].joined(), top * 100),
                 row: area.y, column: area.x, style: Style(.muted), limit: area.width)
        if accumulated && screen.accumulated == nil {
            grid.put(screen.accumulatedProblem ?? "nothing accumulated for \(state.modelName) yet: quitting the playground or `moepp stats TRACE` adds to it",
                     row: area.y + 2, column: area.x, style: Style(screen.accumulatedProblem == nil ? .muted : .error), limit: area.width)
            return
        }
        // Columns: the window of experts that fits, following the selection.
        let columns = max(1, area.width - labelWidth - predictabilityWidth)
        let firstExpert = experts <= columns ? 0 : max(0, min(experts - columns, screen.expert - columns / 2))
        let shownExperts = min(columns, experts - firstExpert)
        let heatRows = max(1, area.height - 2 - detailHeight)
        let firstLayer = layers <= heatRows ? 0 : max(0, min(layers - heatRows, screen.layer - heatRows / 2))
        // Header: every tenth expert number (kind glyphs for zero-computation experts), and where the window is.
        var header = Array(repeating: Character(" "), count: shownExperts)
        for offset in 0..<shownExperts {
            let e = firstExpert + offset
            let kind = state.config.kind(ofExpert: min(e, state.config.numExperts - 1))
            if !kind.isFFN, e < state.config.numExperts { header[offset] = Character(ExpertGlyph.glyph(kind)) }
            else if e % 10 == 0 { for (i, c) in String(e).enumerated() where offset + i < shownExperts && header[offset + i] == " " { header[offset + i] = c } }
        }
        grid.put(String(header), row: area.y + 1, column: area.x + labelWidth, style: Style(.muted))
        let window = experts > columns ? "\(firstExpert)…\(firstExpert + shownExperts - 1) of \(experts)" : "next layer"
        grid.put(window, row: area.y + 1, column: area.x + labelWidth + shownExperts + 1, style: Style(.muted), limit: predictabilityWidth - 1)
        let predictability = NextLayerPredictability(trace).pairs
        for row in 0..<min(heatRows, layers - firstLayer) {
            let l = firstLayer + row, y = area.y + 2 + row
            grid.put("L\(l)", row: y, column: area.x, style: Style(.muted, bold: l == screen.layer))
            guard l < usage.layers else { continue }
            for offset in 0..<shownExperts {
                let e = firstExpert + offset
                let share = e < usage.experts ? usage.share(layer: l, expert: e) : 0
                let level = share == 0 || top == 0 ? 0 : max(1, min(4, Int((share / top * 4).rounded(.up))))
                let color: Color = level == 0 ? .muted : level <= 2 ? .cool : level == 3 ? .warm : .hot
                grid.put(shades[level], row: y, column: area.x + labelWidth + offset, style: Style(color, reverse: l == screen.layer && e == screen.expert))
            }
            if !accumulated, l < predictability.count, predictability[l].tokens > 0 {
                grid.put(String(format: "→L%d %3.0f%%", l + 1, predictability[l].predictability * 100), row: y,
                         column: area.x + labelWidth + shownExperts + 1, style: Style(.good), limit: predictabilityWidth - 1)
            }
        }
        drawDetail(into: &grid, Rect(x: area.x, y: area.y + area.height - detailHeight, width: area.width, height: detailHeight),
                   state, screen, trace: trace, usage: usage, predictability: predictability)
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
        let coActivation = CoActivation(trace, layer: l)
        if e < coActivation.together.count {
            let partners = coActivation.partners(of: e, limit: 6).map { p in
                name(p.expert) + " \(p.tokens)" + (coActivation.lift(e, p.expert).map { String(format: " (lift %.1f)", $0) } ?? "")
            }
            lines.append(("fires with: " + (partners.isEmpty ? "—" : partners.joined(separator: " · ")), Style()))
        }
        let top = ExpertTopTokens(trace, layer: l, expert: e, limit: 8).entries.map { entry in
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
