import Foundation

/// The prompt: text with a caret (it may hold line breaks: Alt+Enter, Ctrl+J or a paste), and
/// Up/Down history of what was sent.
public struct LineEditor: Sendable {
    public private(set) var text: [Character] = []
    public private(set) var caret = 0
    public private(set) var history: [String] = []
    var historyIndex: Int?

    public init() {}

    public var string: String { String(text) }
    public var isEmpty: Bool { text.isEmpty }

    public mutating func insert(_ character: Character) {
        text.insert(character, at: caret)
        caret += 1
    }
    /// Inserts a whole text (a paste) at the caret; "\r\n" and "\r" become "\n".
    public mutating func insert(contentsOf pasted: String) {
        let normalised = pasted.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        text.insert(contentsOf: normalised, at: caret)
        caret += normalised.count
    }

    /// Lines in the prompt (a multi-line prompt is sent whole).
    public var lineCount: Int { text.filter { $0 == "\n" }.count + 1 }

    public mutating func backspace() { if caret > 0 { text.remove(at: caret - 1); caret -= 1 } }
    public mutating func delete() { if caret < text.count { text.remove(at: caret) } }
    public mutating func left() { caret = max(0, caret - 1) }
    public mutating func right() { caret = min(text.count, caret + 1) }
    public mutating func home() { caret = 0 }
    public mutating func end() { caret = text.count }
    public mutating func clear() { text = []; caret = 0; historyIndex = nil }

    /// Takes the line (recording it in history) and empties the editor.
    public mutating func submit() -> String {
        let line = string
        if !line.isEmpty && history.last != line { history.append(line) }
        clear()
        return line
    }

    public mutating func previous() {
        guard !history.isEmpty else { return }
        let index = max(0, (historyIndex ?? history.count) - 1)
        historyIndex = index
        set(history[index])
    }

    public mutating func next() {
        guard let index = historyIndex else { return }
        if index + 1 < history.count {
            historyIndex = index + 1
            set(history[index + 1])
        } else {
            historyIndex = nil
            set("")
        }
    }

    mutating func set(_ line: String) {
        text = Array(line)
        caret = text.count
    }
}
