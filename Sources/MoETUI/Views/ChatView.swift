import Foundation
import MoEKit

/// The conversation: each prompt, then the streamed reply with every token tinted by the FFN
/// compute it used (cool: few FFN experts, hot: all). Scrolls from the bottom.
public enum ChatView {
    struct Piece { var text: String; var style: Style }

    /// Lines of styled pieces, wrapped to `width` at spaces (a word wider than the line is
    /// broken where it must). A word may span tokens of different tints, so it is held until the
    /// space or line break after it.
    static func lines(_ state: PlaygroundState, width: Int) -> [[Piece]] {
        var lines: [[Piece]] = []
        var current: [Piece] = []
        var used = 0
        var word: [(character: Character, style: Style, width: Int)] = []
        var wordWidth = 0
        func place(_ character: Character, _ style: Style, _ w: Int) {
            if used + w > width { lines.append(current); current = []; used = 0 }
            if let last = current.last, last.style == style { current[current.count - 1].text.append(character) } else { current.append(Piece(text: String(character), style: style)) }
            used += w
        }
        func flushWord() {
            if used > 0 && used + wordWidth > width { lines.append(current); current = []; used = 0 }
            for piece in word { place(piece.character, piece.style, piece.width) }
            word = []
            wordWidth = 0
        }
        func newline() { flushWord(); lines.append(current); current = []; used = 0 }
        func emit(_ text: String, _ style: Style) {
            for character in text {
                if character == "\n" { newline(); continue }
                let w = max(1, DisplayWidth.of(character))
                if character == " " {
                    flushWord()
                    // A space that would end the line is the line break itself.
                    if used + w > width { lines.append(current); current = []; used = 0 } else { place(character, style, w) }
                    continue
                }
                word.append((character, style, w))
                wordWidth += w
            }
        }
        for turn in state.turns {
            if let notice = turn.notice { emit("· \(notice)", Style(.muted, dim: true)); newline() }
            emit("› ", Style(.accent, bold: true))
            emit(turn.prompt, Style(bold: true))
            var consumed = 0
            for piece in turn.replyTokens {
                emit(piece.text, ExpertGlyph.heat(state.tokens[piece.index], baseline: state.vanillaFFN(state.tokens[piece.index])))
                consumed += piece.text.count
            }
            let rest = String(turn.reply.dropFirst(consumed))
            if !rest.isEmpty { emit(rest, Style()) }
            if let mark = turn.finished.flatMap({ endMark($0.reason) }) {
                newline()
                emit("[\(mark)]", Style(.muted, dim: true))
            }
            newline()
            newline()
        }
        flushWord()
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// How a reply that did not end by itself is marked.
    static func endMark(_ reason: FinishReport.Reason) -> String? {
        switch reason {
        case .endOfSequence: return nil
        case .maxTokens: return "max tokens"
        case .stopped: return "stopped"
        case .contextFull: return "context full"
        }
    }

    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        let follow = state.chatScroll == 0
        grid.box(rect, title: "Chat · \(state.modelName)" + (follow ? "" : " · scrolled (End: follow)"), focused: state.focus == .chat)
        let area = rect.inner
        guard area.width > 0 && area.height > 0 else { return }
        let all = lines(state, width: area.width)
        if all.isEmpty {
            grid.put("Type a prompt below and press Enter. F1 for help.", row: area.y, column: area.x, style: Style(.muted), limit: area.width)
            let legend = "Reply tint = FFN compute per token: cool (few experts) · warm · hot (all)."
            grid.put(legend, row: area.y + 1, column: area.x, style: Style(.muted), limit: area.width)
            return
        }
        let maxScroll = max(0, all.count - area.height)
        state.chatScroll = min(state.chatScroll, maxScroll)
        let end = all.count - state.chatScroll
        let start = max(0, end - area.height)
        for (offset, line) in all[start..<end].enumerated() {
            var x = area.x
            for piece in line { x += grid.put(piece.text, row: area.y + offset, column: x, style: piece.style, limit: area.x + area.width - x) }
        }
    }
}

/// The prompt line, with a caret; shows whether a reply is streaming.
public enum InputView {
    public static func draw(into grid: inout CellGrid, _ rect: Rect, _ state: PlaygroundState) {
        let lines = state.input.lineCount
        let title = state.generating ? "Prompt · generating (Ctrl+C stops)" : lines > 1 ? "Prompt · \(lines) lines (Alt+Enter / Ctrl+J: new line)" : "Prompt"
        grid.box(rect, title: title, focused: state.focus == .input)
        let area = rect.inner
        // One row: line breaks are shown as ⏎ (the prompt keeps them).
        let text = state.input.string.replacingOccurrences(of: "\n", with: "⏎")
        let caret = state.input.caret
        let before = String(text.prefix(caret))
        // Keep the caret in view: show the tail of long lines.
        let visibleBefore = String(before.suffix(max(0, area.width - 4)))
        var x = area.x + grid.put("› ", row: area.y, column: area.x, style: Style(.accent, bold: true))
        x += grid.put(visibleBefore, row: area.y, column: x, limit: area.x + area.width - x)
        let after = String(text.dropFirst(caret))
        let caretCharacter = after.first.map(String.init) ?? " "
        if state.focus == .input { x += grid.put(caretCharacter, row: area.y, column: x, style: Style(reverse: true), limit: area.x + area.width - x) } else { x += grid.put(caretCharacter, row: area.y, column: x, limit: area.x + area.width - x) }
        grid.put(String(after.dropFirst()), row: area.y, column: x, limit: area.x + area.width - x)
    }
}
