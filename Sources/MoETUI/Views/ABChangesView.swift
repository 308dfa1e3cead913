import Foundation
import MoEKit

/// Per layer, the share of compared token-layers whose set of chosen experts differs between A
/// and B (`SettingsComparison.layers`), as bars laid out in as many columns as the layers need.
public enum ABChangesView {
    /// "L12 " + bar + " 100%": the label and figure around a bar.
    static let labelWidth = 4, figureWidth = 6, minimumBar = 4, gap = 2

    static func columns(layers: Int, rows: Int) -> Int { max(1, (layers + max(1, rows) - 1) / max(1, rows)) }

    /// Rows needed to show every layer with bars of at least `minimumBar` cells in `width` columns.
    static func rowsNeeded(layers: Int, width: Int) -> Int {
        let fit = max(1, width / (labelWidth + minimumBar + figureWidth + gap))
        return max(1, (layers + fit - 1) / fit)
    }

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ comparison: SettingsComparison) {
        grid.box(rect, title: "Changed expert choices per layer · A vs B")
        let area = rect.inner
        guard area.height >= 2 else { return }
        let total = comparison.changedChoices, compared = comparison.comparedPositions * comparison.layers.count
        grid.put("set of chosen experts differs in \(total)/\(compared) token-layers, over the \(comparison.comparedPositions) positions "
                 + "both sides read alike", row: area.y, column: area.x, style: Style(.muted), limit: area.width)
        let rows = area.height - 1
        let layers = comparison.layers
        // Too many layers for even label + figure columns: the first ones that fit, and a note.
        let fitting = max(1, area.width / (labelWidth + figureWidth + gap))
        let columns = min(fitting, columns(layers: layers.count, rows: rows))
        let shown = min(layers.count, columns * rows)
        let columnWidth = area.width / columns
        let barWidth = max(0, columnWidth - labelWidth - figureWidth - gap)
        if shown < layers.count {
            let note = " layers 0–\(shown - 1) of \(layers.count) (all: moepp compare-settings) "
            grid.put(note, row: rect.y + rect.height - 1, column: rect.x + max(2, rect.width - DisplayWidth.of(note) - 2), style: Style(.muted), limit: rect.width - 4)
        }
        for (index, layer) in layers.prefix(shown).enumerated() {
            let y = area.y + 1 + index % rows
            var x = area.x + (index / rows) * columnWidth
            x += grid.put("L\(layer.layer)".padding(labelWidth), row: y, column: x, style: Style(.muted))
            let bar = grid.glyphs.bar(layer.share, width: barWidth)
            let color: Color = layer.share == 0 ? .good : layer.share < 0.25 ? .warm : .hot
            grid.put(bar, row: y, column: x, style: Style(color), limit: barWidth)
            grid.put(String(format: "%4.0f%%", layer.share * 100), row: y, column: x + barWidth, style: Style(bold: layer.changed > 0), limit: figureWidth)
        }
    }
}
