import Foundation
import MoEKit

/// Where the A/B screen's panes go: the two replies side by side on top, the per-layer changed
/// shares below them, the routing map of one side at the bottom; status line and key bar last.
public struct ABLayout: Equatable, Sendable {
    public var replyA = Rect(x: 0, y: 0, width: 0, height: 0)
    public var replyB = Rect(x: 0, y: 0, width: 0, height: 0)
    public var changes = Rect(x: 0, y: 0, width: 0, height: 0)
    public var map = Rect(x: 0, y: 0, width: 0, height: 0)
    public var statusRow = 0
    public var keyBarRow = 0

    public init(width: Int, height: Int, layers: Int) {
        statusRow = height - 2
        keyBarRow = height - 1
        let body = height - 2
        let half = width / 2
        // The bars fill columns of at most a third of the body's rows.
        let barRows = min(max(1, body / 3 - 3), ABChangesView.rowsNeeded(layers: layers, width: width - 2))
        let changesHeight = barRows + 3
        let mapHeight = min(layers + 3, max(5, (body - changesHeight) * 2 / 5))
        let replyHeight = body - changesHeight - mapHeight
        replyA = Rect(x: 0, y: 0, width: half, height: replyHeight)
        replyB = Rect(x: half, y: 0, width: width - half, height: replyHeight)
        changes = Rect(x: 0, y: replyHeight, width: width, height: changesHeight)
        map = Rect(x: 0, y: replyHeight + changesHeight, width: width, height: mapHeight)
    }
}

/// The A/B screen (`/ab SETTING`): the last prompt replayed under two settings.
public enum ABView {
    public static func draw(into grid: inout CellGrid, _ state: PlaygroundState, _ comparison: SettingsComparison) {
        let layout = ABLayout(width: grid.width, height: grid.height, layers: state.config.numLayers)
        drawReply(into: &grid, layout.replyA, comparison, comparison.a, name: "A", other: comparison.b)
        drawReply(into: &grid, layout.replyB, comparison, comparison.b, name: "B", other: comparison.a)
        ABChangesView.draw(into: &grid, layout.changes, comparison)
        ABMapView.draw(into: &grid, layout.map, state, comparison)
        StatusBarView.draw(into: &grid, row: layout.statusRow, keyBarRow: layout.keyBarRow, state)
        grid.fill(Rect(x: 0, y: layout.keyBarRow, width: grid.width, height: 1))
        grid.put("A/B  ", row: layout.keyBarRow, column: 0, style: Style(reverse: true))
        grid.put(ABScreenKeys.bar, row: layout.keyBarRow, column: 6, style: Style(.muted))
    }

    /// One side: its setting, the prompt and reply with the divergence marked, then its cost and speed.
    static func drawReply(into grid: inout CellGrid, _ rect: Rect, _ comparison: SettingsComparison, _ side: ReplaySide, name: String, other: ReplaySide) {
        grid.box(rect, title: "\(name) · \(side.setting)")
        let area = rect.inner
        guard area.height >= 3 else { return }
        let mark = grid.glyphs.isUnicode ? "‖" : "|"
        var pieces: [ChatView.Piece] = [ChatView.Piece(text: "› " + comparison.prompt, style: Style(.muted))]
        let (common, rest) = comparison.split(side)
        pieces.append(ChatView.Piece(text: common, style: Style()))
        if comparison.divergence != nil {
            pieces.append(ChatView.Piece(text: mark, style: Style(.accent, bold: true, reverse: true)))
            pieces.append(ChatView.Piece(text: rest, style: Style(.warm, bold: true, underline: true)))
        }
        let lines = wrap(pieces, width: area.width)
        let textRows = area.height - 2
        // Keep the divergence in view: the lines from a little before it.
        let markLine = lines.firstIndex { $0.contains { $0.text == mark && $0.style.reverse } } ?? 0
        let start = max(0, min(max(0, lines.count - textRows), markLine - textRows / 3))
        for (offset, line) in lines.dropFirst(start).prefix(textRows).enumerated() {
            var x = area.x
            for piece in line { x += grid.put(piece.text, row: area.y + offset, column: x, style: piece.style, limit: area.x + area.width - x) }
        }
        let y = area.y + area.height - 2
        let parting = comparison.divergence.map { "\(mark) at reply token \($0)" } ?? "identical replies"
        grid.put("\(side.tokenIds.count) tokens (\(side.finish)) · \(parting)", row: y, column: area.x, style: Style(.muted), limit: area.width)
        let cost = String(format: "FFN experts/token %.2f", side.ffnExpertsPerToken)
        let speed = String(format: "decode %.1f tok/s", side.medianDecodeRate)
        let cheaper = side.ffnExpertsPerToken < other.ffnExpertsPerToken
        var x = area.x + grid.put(cost, row: y + 1, column: area.x, style: Style(cheaper ? .good : .normal, bold: true), limit: area.width)
        x += grid.put("  ·  ", row: y + 1, column: x, style: Style(.muted), limit: area.x + area.width - x)
        grid.put(speed, row: y + 1, column: x, style: Style(bold: true), limit: area.x + area.width - x)
    }

    /// Styled pieces wrapped to `width` columns; a newline starts a new line.
    static func wrap(_ pieces: [ChatView.Piece], width: Int) -> [[ChatView.Piece]] {
        var lines: [[ChatView.Piece]] = [[]]
        var used = 0
        for piece in pieces {
            for character in piece.text {
                if character == "\n" { lines.append([]); used = 0; continue }
                let w = max(1, DisplayWidth.of(character))
                if used + w > width { lines.append([]); used = 0 }
                if let last = lines[lines.count - 1].last, last.style == piece.style {
                    lines[lines.count - 1][lines[lines.count - 1].count - 1].text.append(character)
                } else {
                    lines[lines.count - 1].append(ChatView.Piece(text: String(character), style: piece.style))
                }
                used += w
            }
        }
        return lines
    }
}
