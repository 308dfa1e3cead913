/// Semantic colours; the terminal maps them to colour pairs (or to nothing under NO_COLOR).
public enum Color: Int, CaseIterable, Sendable {
    case normal, ffn, zero, copy, constant, accent, muted, cool, warm, hot, error, good
}

public struct Style: Hashable, Sendable {
    public var color: Color = .normal
    public var bold = false
    public var dim = false
    public var reverse = false
    public var underline = false

    public init(_ color: Color = .normal, bold: Bool = false, dim: Bool = false, reverse: Bool = false, underline: Bool = false) {
        self.color = color
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }
}

public struct Rect: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) { (self.x, self.y, self.width, self.height) = (x, y, width, height) }
    public var inner: Rect { Rect(x: x + 1, y: y + 1, width: max(0, width - 2), height: max(0, height - 2)) }
    public func contains(row: Int, column: Int) -> Bool { row >= y && row < y + height && column >= x && column < x + width }
}

/// An off-screen screen: the views draw here, the terminal copies it out, and tests read it.
/// A wide character occupies two cells; the right one holds "" so that columns stay aligned.
public struct CellGrid: Sendable {
    public struct Cell: Equatable, Sendable {
        public var text: String
        public var style: Style
    }

    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    public let glyphs: Glyphs

    public init(width: Int, height: Int, glyphs: Glyphs = .unicode) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.glyphs = glyphs
        cells = Array(repeating: Cell(text: " ", style: Style()), count: self.width * self.height)
    }

    public subscript(row: Int, column: Int) -> Cell { cells[row * width + column] }

    /// Writes `text` from (row, column), clipped to `limit` columns (default: to the grid's
    /// edge); control characters are made visible. Text that does not fit ends in the ellipsis
    /// mark, so a cut is never silent (trailing spaces are dropped without one). Returns the
    /// columns used.
    @discardableResult
    public mutating func put(_ text: String, row: Int, column: Int, style: Style = Style(), limit: Int? = nil) -> Int {
        guard row >= 0 && row < height && column < width else { return 0 }
        let end = min(width, column + (limit ?? width))
        var x = column
        var lastStart: Int?
        for (offset, character) in zip(text.indices, text) {
            let shown = glyphs.printable(character)
            let w = DisplayWidth.of(shown)
            if w == 0 {
                // Combining marks join the previous cell.
                if x > column, x - 1 < width, x - 1 >= 0 { cells[row * width + x - 1].text += String(shown) }
                continue
            }
            guard x + w <= end else {
                if text[offset...].allSatisfy({ $0 == " " }) { break }
                x = markCut(row: row, at: x, lastStart: lastStart, end: end, style: style)
                break
            }
            if x >= 0 {
                cells[row * width + x] = Cell(text: String(shown), style: style)
                if w == 2 { cells[row * width + x + 1] = Cell(text: "", style: style) }
            }
            lastStart = x
            x += w
        }
        return max(0, x - column)
    }

    /// The ellipsis at `x` if a cell is left before `end`, else over the last character written
    /// (a wide one leaves its right half blank). Returns the column after the mark.
    private mutating func markCut(row: Int, at x: Int, lastStart: Int?, end: Int, style: Style) -> Int {
        var at = x
        if at >= end {
            guard let lastStart, lastStart >= 0 else { return x }
            for c in lastStart..<x { cells[row * width + c] = Cell(text: " ", style: style) }
            at = lastStart
        }
        guard at >= 0 && at < width else { return x }
        cells[row * width + at] = Cell(text: glyphs.ellipsis, style: style)
        return max(x, at + 1)
    }

    public mutating func fill(_ rect: Rect, style: Style = Style()) {
        for r in max(0, rect.y)..<min(height, rect.y + rect.height) {
            for c in max(0, rect.x)..<min(width, rect.x + rect.width) { cells[r * width + c] = Cell(text: " ", style: style) }
        }
    }

    /// A frame with a title; the focused frame is drawn bold in the accent colour.
    public mutating func box(_ rect: Rect, title: String, focused: Bool = false) {
        guard rect.width >= 2 && rect.height >= 2 else { return }
        let style = focused ? Style(.accent, bold: true) : Style(.muted)
        let g = glyphs
        let horizontal = String(repeating: g.horizontal, count: rect.width - 2)
        put(g.topLeft + horizontal + g.topRight, row: rect.y, column: rect.x, style: style)
        put(g.bottomLeft + horizontal + g.bottomRight, row: rect.y + rect.height - 1, column: rect.x, style: style)
        for r in (rect.y + 1)..<(rect.y + rect.height - 1) {
            put(g.vertical, row: r, column: rect.x, style: style)
            put(g.vertical, row: r, column: rect.x + rect.width - 1, style: style)
        }
        let label = focused ? "\(g.focusMark) \(title) " : " \(title) "
        put(label, row: rect.y, column: rect.x + 2, style: focused ? Style(.accent, bold: true) : Style(bold: true), limit: rect.width - 4)
    }

    /// Row `row` as plain text (wide characters once, right halves skipped) — what tests read.
    public func text(row: Int) -> String {
        (0..<width).map { cells[row * width + $0].text }.joined()
    }

    public var text: String { (0..<height).map { text(row: $0) }.joined(separator: "\n") }
}
