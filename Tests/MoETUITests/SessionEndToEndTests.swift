import Foundation
import Testing
import TestHelpers
@testable import MoEKit

/// Multi-line input and sessions, driven in tmux like the rest of `TerminalEndToEndTests`.
extension TerminalEndToEndTests {
    func launch(_ model: String, environment: String = "") throws {
        try type("\(environment)\(binary) chat --model \(model) --temperature 0; echo EXIT=$?")
        try keys("Enter")
        try waitFor("the playground") { $0.contains("Routing map") && $0.contains("Inspector") }
    }

    func quit() throws {
        try keys("C-d")
        try waitFor("a clean shell") { $0.contains("\nEXIT=0") && !$0.contains("Routing map") }
    }

    @Test("a bracketed paste of several lines arrives as one prompt with its line breaks; Alt+Enter and Ctrl+J add lines")
    func multiLinePaste() throws {
        let model = ScratchSpace.directory + "moepp-e2e-paste-\(getpid())"
        try RandomCheckpoint.write(config: RandomCheckpoint.tinyConfig(.moepp), to: model, seed: 6)
        try startShell()
        defer { endShell() }
        try launch(model)
        try type("/max 4")
        try keys("Enter")
        // paste-buffer -p wraps the text in ESC[200~ … ESC[201~ when the application asked for it.
        try tmux(["set-buffer", "-b", "moepp-paste", "the cat\nsat on\nthe mat"])
        try tmux(["paste-buffer", "-p", "-b", "moepp-paste", "-t", tmuxSession])
        let pasted = try waitFor("the pasted prompt") { $0.contains("Prompt · 3 lines") }
        #expect(pasted.contains("the cat⏎sat on⏎the mat"))
        #expect(pasted.contains("Type a prompt below"), "nothing was sent by the paste's line breaks")
        try keys("M-Enter")
        try type("and")
        try keys("C-j")
        try type("then")
        try waitFor("two more lines") { $0.contains("Prompt · 5 lines") && $0.contains("the mat⏎and⏎then") }
        try keys("Enter")
        let sent = try waitFor("one reply") { $0.contains("4 generated") && self.idle($0) }
        let chat = sent.split(separator: "\n").map { String($0.dropFirst().prefix(56)) }
        let first = try #require(chat.firstIndex { $0.hasPrefix("› the cat") })
        #expect(chat[first + 1].hasPrefix("sat on") && chat[first + 2].hasPrefix("the mat") && chat[first + 3].hasPrefix("and"))
        #expect(sent.components(separatedBy: "› ").count == 3, "one prompt in the chat (and the prompt box's mark):\n\(sent)")
        #expect(sent.contains("│tok  ⏎"), "the line break token is ⏎ in the map header")
        try quit()
    }

    @Test("/save, quit, relaunch, /load: the same screen, and the conversation goes on")
    func saveQuitLoad() throws {
        let model = ScratchSpace.directory + "moepp-e2e-save-\(getpid())"
        try RandomCheckpoint.write(config: RandomCheckpoint.tinyConfig(.moepp), to: model, seed: 6)
        let state = ScratchSpace.directory + "moepp-e2e-state-\(getpid())"
        let file = ScratchSpace.directory + "moepp-e2e-session-\(getpid()).json"
        try? FileManager.default.removeItem(atPath: file)
        try startShell()
        defer { endShell() }
        try launch(model, environment: "XDG_STATE_HOME=\(state) ")
        for line in ["/max 6", "the cat", "/zero off", "/max 5", " and the dog"] {
            try type(line)
            try keys("Enter")
            if !line.hasPrefix("/") { try waitFor("a reply") { $0.contains(line.hasPrefix("the") ? "6 generated" : "11 generated") && self.idle($0) } }
        }
        try type("/save \(file)")
        try keys("Enter")
        let saved = try waitFor("the save") { $0.contains("saved 2 turns") }
        try quit()
        try type("clear")
        try keys("Enter")
        try launch(model, environment: "XDG_STATE_HOME=\(state) ")
        try type("/load \(file)")
        try keys("Enter")
        let loaded = try waitFor("the load") { $0.contains("loaded 2 turns") }
        let (before, after) = (saved.split(separator: "\n", omittingEmptySubsequences: false), loaded.split(separator: "\n", omittingEmptySubsequences: false))
        #expect(before.count == after.count)
        // Row 43 is the status line (each says what it did last); everything else is the same.
        for (row, (a, b)) in zip(before, after).enumerated() where row != 43 { #expect(a == b, "row \(row):\n\(a)\n\(b)") }
        #expect(after[43].contains("zero OFF") && after[43].contains("max 5"))
        try type(" then")
        try keys("Enter")
        try waitFor("the next reply") { $0.contains("16 generated") && self.idle($0) }
        try quit()
    }
}
