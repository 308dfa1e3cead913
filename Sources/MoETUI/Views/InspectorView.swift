import Foundation
import MoEKit

/// The selected token × layer: router probabilities over all experts as bars (chosen ones marked
/// with their final weights), and what the gating residual did — probabilities without it, and
/// whether it changed the chosen set.
public enum InspectorView {
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
        let shown = token.text.replacingOccurrences(of: "\n", with: "⏎")
        grid.put("token \"\(shown)\" · position \(token.position) · \(token.phase) · layer \(layer.layer) · \(layer.ffnExpertsComputed) FFN computed",
                 row: area.y, column: area.x, style: Style(bold: true), limit: area.width)
        if layer.probabilities.isEmpty && layer.shared.isEmpty { return drawChoicesOnly(into: &grid, area, layer, state) }
        let chosen = Dictionary(layer.chosen.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        let barWidth = max(6, area.width - 42)
        let experts = layer.probabilities.count
        let offloadLine = Self.offloadSummary(layer, state.config, unicode: grid.glyphs.isUnicode)
        // Always-on experts are outside the router, so they have no bar: one line under the bars.
        let alwaysOn = layer.shared.map { $0.kind.description + String(format: " %.2f", $0.weight) }.joined(separator: ", ")
        let sharedLine: String? = layer.shared.isEmpty ? nil
            : layer.hasRouter ? "always on: " + alwaysOn : "dense layer, no router: its one FFN (shared0, S) runs on every token"
        let rows = max(0, min(experts, area.height - 3 - (offloadLine == nil ? 0 : 1) - (sharedLine == nil ? 0 : 1)))
        // Show the most likely experts first when they do not all fit.
        let order = rows < experts ? Array(layer.probabilities.indices.sorted { layer.probabilities[$0] > layer.probabilities[$1] }.prefix(rows)).sorted() : Array(0..<experts)
        grid.put("expert   p (with residual)" + String(repeating: " ", count: max(1, barWidth - 15)) + "  w     p no-res", row: area.y + 1, column: area.x, style: Style(.muted), limit: area.width)
        for (row, index) in order.enumerated() {
            let kind = state.config.kind(ofExpert: index)
            let y = area.y + 2 + row
            let p = Double(layer.probabilities[index])
            var x = area.x
            x += grid.put(kind.description.padding(7), row: y, column: x, style: Style(ExpertGlyph.color(kind)))
            x += grid.put(ExpertGlyph.glyph(kind) + " ", row: y, column: x, style: Style(ExpertGlyph.color(kind), bold: true))
            let bar = grid.glyphs.bar(p, width: barWidth)
            grid.put(bar, row: y, column: x, style: Style(ExpertGlyph.color(kind), bold: chosen[index] != nil))
            x += barWidth + 1
            x += grid.put(String(format: "%.2f", p), row: y, column: x)
            if let choice = chosen[index] {
                grid.put(" \(grid.glyphs.chosenMark)" + String(format: "%.2f", choice.weight) + (choice.dropped ? " dropped (adaptive)" : ""), row: y, column: x,
                         style: Style(.accent, bold: true), limit: area.x + area.width - x)
            }
            x += 7
            let without = Double(layer.probabilitiesWithoutResidual[index])
            let wasChosen = layer.chosenWithoutResidual.contains(index)
            grid.put(String(format: "%.2f", without) + (wasChosen ? grid.glyphs.chosenMark : ""), row: y, column: x + 1, style: Style(.muted), limit: area.x + area.width - x - 1)
        }
        if let sharedLine { grid.put(sharedLine, row: area.y + 2 + rows, column: area.x, style: Style(.ffn, bold: true), limit: area.width) }
        let footer = area.y + area.height - 1
        let changed = layer.residualChangedChoice
        let withoutNames = layer.chosenWithoutResidual.map { state.config.kind(ofExpert: $0).description }.joined(separator: ", ")
        let summary = layer.layer == 0 || !state.config.hasGatingResidual
            ? "gating residual: none into this layer"
            : String(format: "gating residual %@ the choice (without it: %@); probability shift %.3f", changed ? "CHANGED" : "kept", withoutNames, layer.residualProbabilityShift)
        grid.put(summary, row: footer, column: area.x, style: changed ? Style(.accent, bold: true) : Style(.muted), limit: area.width)
        if let offloadLine { grid.put(offloadLine, row: footer - 1, column: area.x, style: Style(.good), limit: area.width) }
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
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
