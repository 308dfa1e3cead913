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
        let columns = columns(layers: layers.count, rows: rows)
        let columnWidth = area.width / columns
        let barWidth = columnWidth - labelWidth - figureWidth - gap
        guard barWidth >= 1 else { return }
        for (index, layer) in layers.enumerated() {
            let y = area.y + 1 + index % rows
            var x = area.x + (index / rows) * columnWidth
            guard index / rows < columns else { break }
            x += grid.put("L\(layer.layer)".padding(labelWidth), row: y, column: x, style: Style(.muted))
            let bar = grid.glyphs.bar(layer.share, width: barWidth)
            let color: Color = layer.share == 0 ? .good : layer.share < 0.25 ? .warm : .hot
            grid.put(bar, row: y, column: x, style: Style(color), limit: barWidth)
            grid.put(String(format: "%4.0f%%", layer.share * 100), row: y, column: x + barWidth, style: Style(bold: layer.changed > 0), limit: figureWidth)
        }
    }
}
