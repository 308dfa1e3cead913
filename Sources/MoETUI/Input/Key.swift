/// A key press or mouse event, decoded from the terminal.
public enum Key: Hashable, Sendable {
    case character(Character)
    case control(Character)   // Ctrl+letter, lower-case letter
    case enter, escape, tab, backTab, backspace, delete
    case up, down, left, right, home, end, pageUp, pageDown
    case function(Int)
    case click(row: Int, column: Int)
    case wheelUp, wheelDown
    case resize
    /// Alt+Enter or Ctrl+J: a line break inside the prompt.
    case newline
    /// A bracketed paste, whole (line breaks kept).
    case paste(String)

    /// How the help screen names the key.
    public var label: String {
        switch self {
        case .character(let c): return String(c)
        case .control(let c): return "Ctrl+\(c.uppercased())"
        case .enter: return "Enter"
        case .escape: return "Esc"
        case .tab: return "Tab"
        case .backTab: return "Shift+Tab"
        case .backspace: return "Backspace"
        case .delete: return "Del"
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .home: return "Home"
        case .end: return "End"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .function(let n): return "F\(n)"
        case .click: return "click"
        case .wheelUp: return "wheel↑"
        case .wheelDown: return "wheel↓"
        case .resize: return "resize"
        case .newline: return "Alt+Enter"
        case .paste: return "paste"
        }
    }
}
