import MoEKit

/// The routing map of one side of an A/B replay (layers × positions, glyphs as in the main map).
/// A cell whose set of chosen experts differs from the other side's at the same position is
/// drawn reversed; positions after the divergence read different tokens, so they are not marked.
/// The first differing token's column header is underlined and marked.
public enum ABMapView {
    static let labelWidth = RoutingMapView.labelWidth
    static let columnWidth = RoutingMapView.columnWidth

    static func columns(_ rect: Rect) -> Int { max(1, (rect.inner.width - labelWidth) / columnWidth) }

    /// The first column when the map is centred on the divergence (or shows the end of the trace).
    static func centredFirstToken(_ comparison: SettingsComparison, columns: Int) -> Int {
        let total = max(comparison.a.trace.count, comparison.b.trace.count)
        let focus = comparison.divergencePosition ?? total
        return max(0, min(total - columns, focus - columns / 2))
    }

    /// The same, for the screen size the controller last drew at.
    static func centredFirstToken(_ state: PlaygroundState, layout: ScreenLayout) -> Int {
        guard let comparison = state.ab.comparison else { return 0 }
        let map = ABLayout(width: layout.width, height: layout.height, layers: state.config.numLayers).map
        return centredFirstToken(comparison, columns: columns(map))
    }

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState, _ comparison: SettingsComparison) {
        let (side, other, name) = state.ab.showingB ? (comparison.b, comparison.a, "B") : (comparison.a, comparison.b, "A")
        grid.box(rect, title: "Routing map of \(name) · \(side.setting) · reversed: chosen set differs from \(name == "A" ? "B" : "A") · m flips", focused: true)
        let area = rect.inner
        guard area.height >= 2 else { return }
        let trace = side.trace
        let columns = columns(rect)
        let first = max(0, min(max(0, trace.count - 1), state.ab.mapFirstToken ?? centredFirstToken(comparison, columns: columns)))
        let count = max(0, min(columns, trace.count - first))
        let layers = state.config.numLayers
        let firstLayer = max(0, min(state.ab.mapFirstLayer, layers - (area.height - 1)))
        grid.put("tok", row: area.y, column: area.x, style: Style(.muted))
        for offset in 0..<count {
            let position = first + offset
            let token = trace[position]
            let label = String(token.text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(3))
            let diverging = position == comparison.divergencePosition
            let style = diverging ? Style(.accent, bold: true, underline: true) : token.phase == "generated" ? Style() : Style(.muted)
            grid.put(label.isEmpty ? (grid.glyphs.isUnicode ? "␣" : "_") : label, row: area.y, column: area.x + labelWidth + offset * columnWidth, style: style, limit: columnWidth - 1)
        }
        for row in 0..<min(area.height - 1, layers - firstLayer) {
            let layer = firstLayer + row
            let y = area.y + 1 + row
            grid.put("L\(layer)", row: y, column: area.x, style: Style(.muted))
            for offset in 0..<count {
                let position = first + offset
                guard layer < trace[position].layers.count else { continue }
                let routing = trace[position].layers[layer]
                let changed = position < comparison.comparedPositions
                    && SettingsComparison.chosenSet(routing) != SettingsComparison.chosenSet(other.trace[position].layers[layer])
                var x = area.x + labelWidth + offset * columnWidth
                for choice in (routing.chosen + routing.shared).prefix(columnWidth - 1) {
                    let style = Style(ExpertGlyph.color(choice.kind), bold: choice.weight >= 0.5, dim: choice.weight == 0, reverse: changed)
                    x += grid.put(ExpertGlyph.glyph(choice.kind), row: y, column: x, style: style, limit: 1)
                }
            }
        }
    }
}
