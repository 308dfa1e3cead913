/// The help overlay: every key binding (from the key table), the slash commands and the map's
/// glyphs. It scrolls (↑↓, PgUp/PgDn, Home/End) when the terminal is too short to show it all.
public enum HelpView {
    enum Line {
        case entry(String, String, keyWidth: Int)
        case note(String)
        case blank
    }

    static func lines(_ state: PlaygroundState) -> [Line] {
        KeyTable.helpLines.map { Line.entry($0.keys, $0.summary, keyWidth: 28) } + [.blank]
            + SlashCommand.usage.map { Line.entry($0.0, $0.1, keyWidth: 46) } + [.blank,
            .note("Map glyphs: " + RoutingMapView.legend(state.config) + (MapCell.usesSummary(state.config, width: RoutingMapView.columnWidth - 1)
                  ? "; the count's colour: FFN compute (cool few, hot all); the inspector lists every expert."
                  : "; FFN experts 0-9 a-z (then decimal ids); dim = weight 0.")),
            .note("Tokens: ⏎ newline, ␣ space, <0xNN> a raw byte (byte fallback)."),
        ]
    }

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        let all = lines(state)
        let area = rect.inner
        let maxScroll = max(0, all.count - area.height)
        state.helpScroll = max(0, min(state.helpScroll, maxScroll))
        let first = state.helpScroll
        let last = min(all.count, first + area.height)
        let position = maxScroll == 0 ? "" : " · lines \(first + 1)–\(last) of \(all.count), ↑↓ PgUp PgDn scroll"
        grid.fill(rect)
        grid.box(rect, title: "Help · Esc closes" + position, focused: true)
        for (offset, line) in all[first..<last].enumerated() {
            let y = area.y + offset
            switch line {
            case let .entry(keys, summary, keyWidth):
                grid.put(keys, row: y, column: area.x + 1, style: Style(.accent, bold: true), limit: keyWidth)
                grid.put(summary, row: y, column: area.x + keyWidth + 2, limit: area.width - keyWidth - 3)
            case .note(let text):
                grid.put(text, row: y, column: area.x + 1, style: Style(.muted), limit: area.width - 2)
            case .blank: break
            }
        }
    }
}
