import MoEKit

/// Layers × recent tokens. Each cell lists the chosen experts by glyph and colour (digits/letters
/// FFN, Z zero, C copy, K constant), or for fine-grained MoE sums them up (`MapCell`). The
/// selected cell is reversed.
public enum RoutingMapView {
    static let labelWidth = 5
    static let columnWidth = 4

    /// First visible token and how many fit.
    static func window(_ state: PlaygroundState, _ area: Rect) -> (first: Int, count: Int) {
        let columns = max(1, (area.width - labelWidth) / columnWidth)
        let total = state.tokens.count
        guard total > columns else { return (0, total) }
        var first = state.followTail ? total - columns : state.selectedToken - columns / 2
        first = max(0, min(total - columns, first))
        return (first, columns)
    }

    /// First visible layer, keeping the selected one in view.
    static func firstLayer(_ state: PlaygroundState, rows: Int) -> Int {
        let layers = state.config.numLayers
        guard layers > rows else { return 0 }
        return max(0, min(layers - rows, state.selectedLayer - rows / 2))
    }

    /// The (token, layer) under a screen position, for mouse selection.
    public static func cell(atRow row: Int, column: Int, in rect: Rect, _ state: PlaygroundState) -> (token: Int, layer: Int)? {
        let area = rect.inner
        let (first, count) = window(state, area)
        let rows = area.height - 1
        let layerRow = row - area.y - 1
        let tokenColumn = (column - area.x - labelWidth)
        guard layerRow >= 0, layerRow < rows, tokenColumn >= 0 else { return nil }
        let token = first + tokenColumn / columnWidth
        let layer = firstLayer(state, rows: rows) + layerRow
        guard token < first + count, layer < state.config.numLayers else { return nil }
        return (token, layer)
    }

    /// Glyphs the map can show for this model only: Z/C/K where it has zero-computation experts,
    /// S where it has shared experts or dense layers (always on). In summary cells the number
    /// leads: how many FFN experts ran.
    static func legend(_ config: ModelConfig) -> String {
        let categories = config.expertCategories
        var parts = [MapCell.usesSummary(config, width: columnWidth - 1) ? "N FFN experts run" : "F digit"]
        if categories.contains(.zero) { parts.append("Z zero") }
        if categories.contains(.copy) { parts.append("C copy") }
        if categories.contains(.constant) { parts.append("K constant") }
        if config.sharedExperts > 0 || !config.denseLayers.isEmpty { parts.append("S always on") }
        return parts.joined(separator: " · ")
    }

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        // The legend matters more than the axis names: those go first when the title is too long.
        // Layers that do not fit are named in the title (the view follows the selected layer).
        let rowsShown = max(0, rect.inner.height - 1), layers = state.config.numLayers
        let top = firstLayer(state, rows: rowsShown)
        let range = rowsShown < layers ? " · L\(top)–\(top + rowsShown - 1) of \(layers)" : ""
        let titles = ["Routing map · layers × tokens", "Routing map", "Map"].map { "\($0)\(range) (\(legend(state.config)))" }
        let title = titles.first { DisplayWidth.of($0) + 6 <= rect.width } ?? titles[titles.count - 1]
        grid.box(rect, title: title, focused: state.focus == .map)
        let area = rect.inner
        guard area.height >= 2 else { return }
        if state.tokens.isEmpty {
            grid.put("No tokens yet.", row: area.y + 1, column: area.x + 1, style: Style(.muted))
            return
        }
        let (first, count) = window(state, area)
        let rows = area.height - 1
        let firstLayer = firstLayer(state, rows: rows)
        grid.put("tok", row: area.y, column: area.x, style: Style(.muted))
        for offset in 0..<count {
            let index = first + offset
            let token = state.tokens[index]
            let label = TokenLabel.short(token.text)
            let style = token.phase == "generated" ? Style(bold: index == state.selectedToken) : Style(.muted, bold: index == state.selectedToken)
            // A longer token ends in the ellipsis (CellGrid.put marks the cut).
            grid.put(label, row: area.y, column: area.x + labelWidth + offset * columnWidth, style: style, limit: columnWidth - 1)
        }
        for row in 0..<min(rows, state.config.numLayers - firstLayer) {
            let layer = firstLayer + row
            let y = area.y + 1 + row
            grid.put("L\(layer)", row: y, column: area.x, style: Style(.muted, bold: layer == state.selectedLayer))
            for offset in 0..<count {
                let index = first + offset
                guard layer < state.tokens[index].layers.count else { continue }
                let routing = state.tokens[index].layers[layer]
                let selected = index == state.selectedToken && layer == state.selectedLayer
                var x = area.x + labelWidth + offset * columnWidth
                for piece in MapCell(routing, config: state.config, width: columnWidth - 1, ellipsis: grid.glyphs.ellipsis).pieces {
                    var style = piece.style
                    style.reverse = selected
                    x += grid.put(piece.text, row: y, column: x, style: style)
                }
                if selected { grid.put(" ", row: y, column: x, style: Style(reverse: true), limit: 1) }
            }
        }
    }
}

extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

extension Set where Element == Character {
    static let whitespacesAndNewlines: Set<Character> = [" ", "\n", "\t", "\r"]
}
