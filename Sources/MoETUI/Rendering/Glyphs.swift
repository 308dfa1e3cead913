/// Characters the views draw with: Unicode box drawing and blocks, or plain ASCII when the
/// locale cannot show them. Meaning never rests on colour alone: expert kinds have letters.
public struct Glyphs: Sendable {
    public var horizontal, vertical, topLeft, topRight, bottomLeft, bottomRight: String
    public var focusMark: String
    public var barEighths: [String]
    public var sparkline: [String]
    public var chosenMark: String
    public var ellipsis: String
    public let isUnicode: Bool

    public static let unicode = Glyphs(horizontal: "─", vertical: "│", topLeft: "╭", topRight: "╮", bottomLeft: "╰", bottomRight: "╯",
                                       focusMark: "▶", barEighths: ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"],
                                       sparkline: ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"], chosenMark: "◆", ellipsis: "…", isUnicode: true)
    public static let ascii = Glyphs(horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+",
                                     focusMark: ">", barEighths: ["", "", "", "", "#", "#", "#", "#", "#"],
                                     sparkline: ["_", "_", ".", ".", "-", "-", "=", "#"], chosenMark: "*", ellipsis: "~", isUnicode: false)

    /// Control characters become visible stand-ins; outside UTF-8 locales so does non-ASCII.
    public func printable(_ character: Character) -> Character {
        if character == "\t" { return " " }
        if let scalar = character.unicodeScalars.first, scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
            return isUnicode ? "·" : "."
        }
        if !isUnicode && !character.isASCII { return Self.asciiFallback[character] ?? "?" }
        return character
    }

    /// ASCII stand-ins for the symbols the views write themselves; anything else non-ASCII
    /// (text the model wrote) becomes "?". ⏎ is vim's end-of-line mark in list mode.
    static let asciiFallback: [Character: Character] = [
        "·": ".", "×": "x", "›": ">", "−": "-", "␣": "_", "⏎": "$", "…": "~", "–": "-", "—": "-",
        "◆": "*", "✓": "+", "✗": "-", "▶": ">", "→": ">", "←": "<", "↑": "^", "↓": "v", "≥": ">", "≤": "<",
        "ε": "e", "τ": "t", "█": "#", "▁": "_", "│": "|", "─": "-",
    ]

    /// A horizontal bar of `fraction` × `width` cells, in eighths where the glyphs allow.
    public func bar(_ fraction: Double, width: Int) -> String {
        let eighths = Int((max(0, min(1, fraction)) * Double(width * 8)).rounded())
        return String(repeating: barEighths[8], count: eighths / 8) + barEighths[eighths % 8]
    }
}

/// Terminal column width of a character: 0 for combining marks, 2 for East Asian wide and
/// emoji presentation, 1 otherwise. Independent of the C locale, so tests and screen agree.
public enum DisplayWidth {
    public static func of(_ character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        switch first.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return character.unicodeScalars.count > 1 ? 1 : 0
        default: break
        }
        if first.properties.isEmojiPresentation || character.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        let v = first.value
        let wide = (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v) ||
            (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v) ||
            (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
        return wide ? 2 : 1
    }

    public static func of(_ text: String) -> Int { text.reduce(0) { $0 + of($1) } }
}
