import Foundation
import MoEKit

/// The selected token × layer: router probabilities as bars (chosen experts marked with their
/// final weights), the always-on shared experts, and what the gating residual did (where the
/// model has one) or the weight rule (where it has none).
///
/// When every expert fits, they are listed in router order; when not (64–128 experts), the list
/// is ranked — shared experts, then the chosen by weight, then the rest by probability — and
/// scrolls (PgUp/PgDn with the map focused), saying how many rows are above and below.
public enum InspectorView {
    enum Row: Equatable {
        case shared(ChosenExpert)
        case expert(Int)
    }

    /// Every row of the list, in the order it is shown for `capacity` visible rows.
    static func rows(_ layer: LayerRouting, capacity: Int) -> [Row] {
        let shared = layer.shared.map(Row.shared)
        let experts = layer.probabilities.count
        guard shared.count + experts > capacity else { return shared + (0..<experts).map(Row.expert) }
        let p = layer.probabilities
        let chosen = layer.chosen.sorted { $0.weight != $1.weight ? $0.weight > $1.weight : p[$0.index] > p[$1.index] }.map(\.index)
        let chosenSet = Set(chosen)
        let rest = p.indices.filter { !chosenSet.contains($0) }.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }
        return shared + (chosen + rest).map(Row.expert)
    }

    /// The first row shown, so that `visible` rows stay within `total`.
    static func clampedScroll(_ scroll: Int, total: Int, visible: Int) -> Int { max(0, min(scroll, total - visible)) }

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        grid.box(rect, title: "Inspector", focused: false)
        let area = rect.inner
        guard area.height >= 3, state.selectedToken < state.tokens.count else {
            if area.height > 0 { grid.put("Select a cell in the routing map (Tab, arrows or click).", row: area.y, column: area.x, style: Style(.muted), limit: area.width) }
            return
        }
        let token = state.tokens[state.selectedToken]
        guard state.selectedLayer < token.layers.count else { return }
        let layer = token.layers[state.selectedLayer]
        let config = state.config
        let shown = token.text.replacingOccurrences(of: "\n", with: "⏎")
        grid.put("token \"\(shown)\" · position \(token.position) · \(token.phase) · layer \(layer.layer) · \(layer.ffnExpertsComputed) FFN computed",
                 row: area.y, column: area.x, style: Style(bold: true), limit: area.width)
        // A trace imported from another engine may carry only the chosen ids (no probabilities).
        if layer.probabilities.isEmpty && layer.shared.isEmpty { return drawChoicesOnly(into: &grid, area, layer, state) }
        let footer = area.y + area.height - 1
        drawFooter(into: &grid, row: footer, area: area, layer, config)
        let offloadLine = Self.offloadSummary(layer, config, unicode: grid.glyphs.isUnicode)
        if let offloadLine { grid.put(offloadLine, row: footer - 1, column: area.x, style: Style(.good), limit: area.width) }
        guard layer.hasRouter else {
            grid.put("dense layer, no router: its one FFN (shared0, S) runs on every token", row: area.y + 2, column: area.x,
                     style: Style(.ffn, bold: true), limit: area.width)
            return
        }
        let capacity = max(0, area.height - 3 - (offloadLine == nil ? 0 : 1))
        guard capacity > 0 else { return }
        let all = rows(layer, capacity: capacity)
        let fits = all.count <= capacity
        // One row says what is not shown when the list does not fit.
        let visible = fits ? all.count : capacity - 1
        let first = fits ? 0 : clampedScroll(state.inspectorScroll, total: all.count, visible: visible)
        if !fits { state.inspectorScroll = first }
        let titles = columnTitles(layer, config)
        let columns = Columns(config: config, width: area.width, pTitle: titles.p, withoutResidualTitle: titles.withoutResidual)
        grid.put(columns.header, row: area.y + 1, column: area.x, style: Style(.muted), limit: area.width)
        let chosen = Dictionary(layer.chosen.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        for (offset, row) in all[first..<(first + visible)].enumerated() {
            let y = area.y + 2 + offset
            switch row {
            case .shared(let expert): columns.drawShared(into: &grid, row: y, x: area.x, expert)
            case .expert(let index): columns.drawRouted(into: &grid, row: y, x: area.x, index: index, layer, chosen: chosen[index])
            }
        }
        if !fits {
            let below = all.count - first - visible
            var parts: [String] = []
            if first > 0 { parts.append("\(first) above") }
            if below > 0 { parts.append("\(below) more") }
            grid.put("\(grid.glyphs.ellipsis) " + parts.joined(separator: ", ") + " (map focused: PgUp/PgDn)", row: area.y + 2 + visible, column: area.x,
                     style: Style(.muted), limit: area.width)
        }
    }

    /// The probability columns' titles say what this token's router did: with the gating
    /// residual applied (then a second column replays the gate without it), with the residual
    /// toggled off (raw logits passed on unchanged: no second column), or no residual at all (the
    /// first layer, or a family without one).
    static func columnTitles(_ layer: LayerRouting, _ config: ModelConfig) -> (p: String, withoutResidual: String?) {
        guard config.hasGatingResidual && layer.layer > 0 else { return ("p", nil) }
        return layer.routerLogits == layer.residualLogits ? ("p (residual OFF)", nil) : ("p (with residual)", "p no-res")
    }

    /// Where the model has a gating residual: whether it changed the choice. Else the family's
    /// weight rule, which says how the weights shown were formed.
    static func drawFooter(into grid: inout CellGrid, row: Int, area: Rect, _ layer: LayerRouting, _ config: ModelConfig) {
        guard config.hasGatingResidual else {
            grid.put("weights: " + config.weightRule.summary, row: row, column: area.x, style: Style(.muted), limit: area.width)
            return
        }
        let changed = layer.residualChangedChoice
        let withoutNames = layer.chosenWithoutResidual.map { config.kind(ofExpert: $0).description }.joined(separator: ", ")
        let summary = layer.layer == 0
            ? "gating residual: none into this layer"
            : String(format: "gating residual %@ the choice (without it: %@); probability shift %.3f", changed ? "CHANGED" : "kept", withoutNames, layer.residualProbabilityShift)
        grid.put(summary, row: row, column: area.x, style: changed ? Style(.accent, bold: true) : Style(.muted), limit: area.width)
    }

    /// With prefetching or an expert cache: what the prefetcher guessed for this layer (each
    /// guess marked right or wrong) and what the cache did (a prompt batch's traffic sits on its
    /// last token).
    static func offloadSummary(_ layer: LayerRouting, _ config: ModelConfig, unicode: Bool) -> String? {
        var parts: [String] = []
        if let predicted = layer.predictedExperts {
            let computed = Set(layer.computedFFNExperts)
            let names = predicted.map { config.kind(ofExpert: $0).description + (computed.contains($0) ? (unicode ? "✓" : "+") : (unicode ? "✗" : "-")) }
            parts.append("prefetch guess " + (names.isEmpty ? "none" : names.joined(separator: " ")))
        }
        if let cache = layer.cache {
            parts.append(String(format: "cache %d/%d hit (%d prefetched), %d miss, %.2f MB read",
                                cache.hits, cache.requests, cache.prefetchHits, cache.misses, Double(cache.bytesRead) / 1e6))
        }
        return parts.isEmpty ? nil : parts.joined(separator: " · ")
    }

    /// The list's columns: name, glyph (when every expert has a one-cell glyph), bar, p, final
    /// weight, and p without the gating residual (only where the model has one).
    struct Columns {
        let config: ModelConfig
        let width: Int
        let nameWidth: Int
        let glyphWidth: Int
        let barWidth: Int
        let withoutResidual: Bool
        let pTitle: String
        let withoutResidualTitle: String?

        init(config: ModelConfig, width: Int, pTitle: String, withoutResidualTitle: String?) {
            self.pTitle = pTitle
            self.withoutResidualTitle = withoutResidualTitle
            let withoutResidual = withoutResidualTitle != nil
            self.config = config
            self.width = width
            let names: [Int] = (0..<config.numExperts).map { config.kind(ofExpert: $0).description.count }
            let sharedName = config.sharedExperts > 0 ? "shared\(config.sharedExperts - 1)".count : 0
            let nameWidth = max(7, max(names.max() ?? 0, sharedName) + 1)
            let glyphWidth = ExpertGlyph.fitsOneCell(config) ? 2 : 0
            self.nameWidth = nameWidth
            self.glyphWidth = glyphWidth
            self.withoutResidual = withoutResidual
            // p (5) + weight (7) [+ p without the residual (6)] + spare for "dropped (adaptive)".
            let fixed: Int = nameWidth + glyphWidth + 5 + 7 + (withoutResidual ? 6 : 0) + 14
            barWidth = max(6, width - fixed)
        }

        var header: String {
            "expert".padding(nameWidth + glyphWidth) + pTitle.padding(barWidth + 1) + "      w" + (withoutResidualTitle.map { "     " + $0 } ?? "")
        }

        func drawName(into grid: inout CellGrid, row y: Int, x: Int, _ kind: ExpertKind) -> Int {
            var at = x + grid.put(kind.description.padding(nameWidth), row: y, column: x, style: Style(ExpertGlyph.color(kind)))
            if glyphWidth > 0 { at += grid.put(ExpertGlyph.glyph(kind).padding(glyphWidth), row: y, column: at, style: Style(ExpertGlyph.color(kind), bold: true)) }
            return at
        }

        func drawShared(into grid: inout CellGrid, row y: Int, x: Int, _ expert: ChosenExpert) {
            var at = drawName(into: &grid, row: y, x: x, expert.kind)
            grid.put("always on", row: y, column: at, style: Style(.ffn, bold: true), limit: barWidth)
            at += barWidth + 1
            at += grid.put("   —", row: y, column: at, style: Style(.muted))
            grid.put(" \(grid.glyphs.chosenMark)" + String(format: "%.2f", expert.weight), row: y, column: at, style: Style(.accent, bold: true))
        }

        func drawRouted(into grid: inout CellGrid, row y: Int, x: Int, index: Int, _ layer: LayerRouting, chosen: ChosenExpert?) {
            let kind = config.kind(ofExpert: index)
            var at = drawName(into: &grid, row: y, x: x, kind)
            let p = Double(layer.probabilities[index])
            grid.put(grid.glyphs.bar(p, width: barWidth), row: y, column: at, style: Style(ExpertGlyph.color(kind), bold: chosen != nil))
            at += barWidth + 1
            at += grid.put(String(format: "%4.2f", p), row: y, column: at)
            if let chosen {
                grid.put(" \(grid.glyphs.chosenMark)" + String(format: "%.2f", chosen.weight) + (chosen.dropped ? " dropped (adaptive)" : ""), row: y, column: at,
                         style: Style(.accent, bold: true), limit: x + width - at)
            }
            guard withoutResidual else { return }
            at += 7
            let without = String(format: "%.2f", Double(layer.probabilitiesWithoutResidual[index])) + (layer.chosenWithoutResidual.contains(index) ? grid.glyphs.chosenMark : "")
            grid.put(without, row: y, column: at + 1, style: Style(.muted), limit: x + width - at - 1)
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
