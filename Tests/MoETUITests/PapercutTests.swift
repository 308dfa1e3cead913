import Foundation
import Testing
import TestHelpers
@testable import MoEKit
@testable import MoETUI

@Suite("Small things a trial found: ASCII, wrapping, token labels, marks, titles")
struct PapercutTests {
    @Test("under a non-UTF-8 locale the symbols the views write have ASCII stand-ins, never ?")
    func asciiStandIns() throws {
        for symbol: Character in ["·", "×", "›", "−", "␣", "⏎", "…", "◆", "✓", "✗", "↑", "↓", "ε"] {
            let shown = Glyphs.ascii.printable(symbol)
            #expect(shown.isASCII && shown != "?", "\(symbol) → \(shown)")
        }
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the cat", tokens: 4)
        let grid = Screen.render(state, width: 140, height: 45, glyphs: .ascii)
        #expect(grid.text.contains("|> the cat"), "the prompt mark")
        #expect(grid.text(row: 44).contains("F6 k-") && grid.text(row: 44).contains("F7 k+"), "\(grid.text(row: 44))")
    }

    @Test("chat lines break at spaces; a word longer than the line is cut where it must")
    func wordWrap() throws {
        let (_, state, _) = try makeSession()
        state.turns = [Turn(prompt: "alpha beta gamma delta epsilon zeta abcdefghijklmnop")]
        // A space that still fits stays at the end of its line (invisible); the next word moves down.
        let lines = ChatView.lines(state, width: 12).map { String($0.map(\.text).joined().reversed().drop { $0 == " " }.reversed()) }
        #expect(Array(lines.prefix(6)) == ["› alpha beta", "gamma delta", "epsilon zeta", "abcdefghijkl", "mnop", ""], "\(lines)")
    }

    @Test("a reply cut by /max is marked [max tokens]; one that ended by itself is not")
    func maxTokensMark() throws {
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the cat", tokens: 3)
        #expect(state.turns[0].finished?.reason == .maxTokens)
        #expect(Screen.render(state, width: 140, height: 45, glyphs: .unicode).text.contains("[max tokens]"))
        state.turns[0].finished?.reason = .endOfSequence
        #expect(!Screen.render(state, width: 140, height: 45, glyphs: .unicode).text.contains("[max tokens]"))
    }

    @Test("the map header shows line breaks as ⏎, spaces as ␣ and raw bytes by their hex value")
    func tokenLabels() throws {
        #expect(TokenLabel.short("\n") == "⏎" && TokenLabel.short(".\n") == ".⏎" && TokenLabel.short("  ") == "␣")
        #expect(TokenLabel.short(" the") == "the" && TokenLabel.short("<0xE2>") == "xE2" && TokenLabel.short("<0xE2><0x80>") == "xE2")
        // A byte-level token that is half a character is recorded by its bytes, not as U+FFFD.
        let (generator, _, _) = try makeSession()
        let tokenizer = generator.tokenizer
        let partial = try #require((0..<tokenizer.vocabularySize).first { String(bytes: tokenizer.bytes(of: $0), encoding: .utf8) == nil })
        let text = generator.recordText(partial)
        #expect(text == tokenizer.bytes(of: partial).map { String(format: "<0x%02X>", $0) }.joined(), "\(text)")
    }

    @Test("the inspector's column titles say whether the gating residual was applied to the token")
    func inspectorTitles() throws {
        let (generator, state, controller) = try makeSession()
        try generate(generator, state, "the cat", tokens: 2)
        state.selectedLayer = 1
        #expect(Screen.render(state, width: 140, height: 45, glyphs: .unicode).text.contains("p (with residual)"))
        _ = controller.handle(.function(5))
        try generate(generator, state, " and", tokens: 2)
        state.selectedToken = state.tokens.count - 1
        let off = Screen.render(state, width: 140, height: 45, glyphs: .unicode).text
        #expect(off.contains("p (residual OFF)") && !off.contains("p no-res"))
        state.selectedLayer = 0
        #expect(!Screen.render(state, width: 140, height: 45, glyphs: .unicode).text.contains("residual OFF"), "none into layer 0")
    }
}
