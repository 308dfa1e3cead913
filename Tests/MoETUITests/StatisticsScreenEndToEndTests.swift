import Foundation
import Testing
import TestHelpers
@testable import MoEKit

/// The statistics screen (F12) in a real terminal, in the playground and in `moepp view`, driven
/// in tmux like the rest of `TerminalEndToEndTests`.
extension TerminalEndToEndTests {
    var bundledTinyModel: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Assets/models/moepp-tiny").path
    }

    /// The rows inside the screen's outer box (between its ╭ and ╰ lines), without the borders.
    func boxRows(_ screen: String) -> [Substring] {
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
        guard let top = lines.firstIndex(where: { $0.hasPrefix("╭") }),
              let bottom = lines[top...].firstIndex(where: { $0.hasPrefix("╰") }) else { return [] }
        return lines[(top + 1)..<bottom].map { $0.dropFirst().dropLast() }
    }

    /// A row whose text runs up to the right border was cut: it must end in `…` (or be drawn
    /// with glyphs that fill, like rules and heat-map shades), never in the middle of a word.
    func cutWithoutMark(_ screen: String) -> [Substring] {
        boxRows(screen).filter { row in
            guard let last = row.last, last != " " else { return false }
            return !("…─━░▒▓█·╲".contains(last))
        }
    }

    /// "… · 19 tokens · …" in the screen's title: how many tokens the statistics count.
    func tokensInTitle(_ screen: String) -> Int? {
        guard let title = screen.split(separator: "\n").first(where: { $0.contains("Routing statistics") }),
              let range = title.range(of: #"\d+ tokens"#, options: .regularExpression) else { return nil }
        return Int(title[range].split(separator: " ")[0])
    }

    @Test("the statistics screen at 140×45 and 100×30 on moepp-tiny: every layer's heat-map row, co-activation, the selected expert; Tab, Esc; the saved session in moepp view")
    func statisticsScreen() throws {
        let cache = ScratchSpace.directory + "moepp-e2e-stats-cache-\(getpid())"
        let state = ScratchSpace.directory + "moepp-e2e-stats-state-\(getpid())"
        let file = ScratchSpace.directory + "moepp-e2e-stats-session-\(getpid()).json"
        let environment = "XDG_CACHE_HOME=\(cache) XDG_STATE_HOME=\(state) "
        try startShell()
        defer { endShell() }
        try launch(bundledTinyModel, environment: environment)
        try type("/max 12")
        try keys("Enter")
        try type("the cat")
        try keys("Enter")
        try waitFor("a reply") { $0.contains("12 generated") && self.idle($0) }
        try type("/save \(file)")
        try keys("Enter")
        try waitFor("the save") { $0.contains("saved 1 turn") }

        try keys("F12")
        // The title is drawn first; wait until the selected expert's last line is painted too.
        let large = try waitFor("the statistics screen") { $0.contains("Routing statistics · moepp-tiny · this session") && $0.contains("top tokens: ") }
        let tokens = try #require(tokensInTitle(large))
        #expect(tokens > 12, "the prompt's tokens and the 12 generated:\n\(large)")
        let rows = boxRows(large)
        for layer in 0..<4 {
            #expect(rows.contains { $0.hasPrefix("L\(layer)  ") && ($0.contains("░") || $0.contains("▒") || $0.contains("▓") || $0.contains("█")) },
                    "a heat-map row for layer \(layer):\n\(large)")
        }
        #expect(rows.contains { $0.hasPrefix("Usage: share of tokens choosing each expert") })
        #expect(rows.contains { $0.contains("→L1") }, "next-layer predictability beside the map")
        #expect(rows.contains { $0.hasPrefix("Co-activation at layer 0: tokens choosing both") })
        #expect(rows.filter { $0.contains("╲") }.count == 12, "one co-activation row per expert, its diagonal marked")
        #expect(rows.contains { $0.contains("layer 0 · ffn0") }, "the selected expert's rule")
        #expect(rows.contains { $0.hasPrefix("chosen by ") && $0.contains(" of \(tokens) tokens") })
        #expect(rows.contains { $0.hasPrefix("fires with: ") } && rows.contains { $0.hasPrefix("top tokens: ") })
        #expect(cutWithoutMark(large).isEmpty, "\(cutWithoutMark(large))")

        try keys("Down")
        try keys("Right")
        try waitFor("the selection on layer 1 · ffn1") { $0.contains("layer 1 · ffn1") && $0.contains("Co-activation at layer 1") }

        try tmux(["resize-window", "-t", tmuxSession, "-x", "100", "-y", "30"])
        // Waits for the whole redraw, heat-map rows included: a loaded machine can show the new size
        // before every row of it is painted.
        let small = try waitFor("the statistics screen at 100×30 with every layer's row") { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: true)
            let rows = boxRows(screen)
            return screen.contains("Routing statistics") && lines.count == 30 && lines.allSatisfy { $0.count <= 100 }
                && (0..<4).allSatisfy { layer in rows.contains { $0.hasPrefix("L\(layer)  ") } }
        }
        let smallRows = boxRows(small)
        for layer in 0..<4 { #expect(smallRows.contains { $0.hasPrefix("L\(layer)  ") }, "layer \(layer) at 100×30:\n\(small)") }
        #expect(smallRows.contains { $0.contains("layer 1 · ffn1") } && smallRows.contains { $0.hasPrefix("chosen by ") })
        #expect(cutWithoutMark(small).isEmpty, "\(cutWithoutMark(small))")

        try keys("Tab")
        let disk = try waitFor("the accumulated scope") { $0.contains("accumulated on disk") }
        #expect(disk.contains("nothing accumulated for moepp-tiny yet"), "a fresh cache directory holds nothing:\n\(disk)")
        #expect(cutWithoutMark(disk).isEmpty, "\(cutWithoutMark(disk))")
        try keys("Tab")
        try waitFor("this session again") { $0.contains("this session") && $0.contains("Co-activation") }
        try keys("Escape")
        try waitFor("the playground") { $0.contains("Chat ·") && $0.contains("Inspector") && !$0.contains("Routing statistics") }
        try tmux(["resize-window", "-t", tmuxSession, "-x", "140", "-y", "45"])
        try keys("C-d")
        let final = try waitFor("a clean shell") { screen in
            screen.contains("\nEXIT=0") && screen.split(separator: "\n").last { !$0.isEmpty }?.hasPrefix("$") == true
        }
        #expect(!final.contains("Routing map") && !final.contains("╭"), "the terminal is restored:\n\(final)")
        let store = try ExpertUsageStore.load(model: "moepp-tiny", directory: cache + "/moepp/stats")
        #expect(store.traces.count == 1 && store.usage.tokens == Array(repeating: tokens, count: 4), "quitting counted the session once")

        // The saved session, read-only, without the model: the same statistics, and the heat map
        // on disk that quitting just wrote.
        try type("clear; \(environment)\(binary) view \(file); echo EXIT=$?")
        try keys("Enter")
        try waitFor("the viewer") { $0.contains("read-only moepp trace") && $0.contains("Routing map") }
        try keys("F12")
        let viewed = try waitFor("the viewer's statistics screen") { $0.contains("Routing statistics · moepp-tiny · this trace") && $0.contains("top tokens: ") }
        #expect(tokensInTitle(viewed) == tokens)
        for layer in 0..<4 { #expect(boxRows(viewed).contains { $0.hasPrefix("L\(layer)  ") }) }
        #expect(viewed.contains("Co-activation at layer 0") && viewed.contains("layer 0 · ffn0"))
        try keys("Tab")
        let viewedDisk = try waitFor("the viewer's accumulated scope") { $0.contains("accumulated on disk (1 traces)") }
        #expect(tokensInTitle(viewedDisk) == tokens && boxRows(viewedDisk).contains { $0.hasPrefix("L3  ") })
        try keys("Escape")
        try waitFor("the viewer's map") { !$0.contains("Routing statistics") && $0.contains("Routing map") }
        try keys("F10")
        let closed = try waitFor("the viewer's clean exit") { ($0.hasPrefix("EXIT=0") || $0.contains("\nEXIT=0")) && !$0.contains("Routing map") }
        #expect(!closed.contains("╭"))
    }
}
