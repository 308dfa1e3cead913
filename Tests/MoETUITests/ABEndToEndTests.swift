import Foundation
import Testing
import TestHelpers
@testable import MoEKit

extension TerminalEndToEndTests {
    @Test("/ab in a real terminal: the A/B screen at 140×45 and 100×30, the map flips, Esc returns")
    func abReplay() throws {
        let model = ScratchSpace.directory + "moepp-e2e-ab-\(getpid())"
        try RandomCheckpoint.write(config: RandomCheckpoint.tinyConfig(.moepp), to: model, seed: 6)
        try startShell()
        defer { endShell() }
        try type("\(binary) chat --model \(model) --temperature 0; echo EXIT=$?")
        try keys("Enter")
        try waitFor("the playground") { $0.contains("Routing map") }
        try type("/max 12")
        try keys("Enter")
        try type("the cat")
        try keys("Enter")
        try waitFor("a reply") { $0.contains("12 generated") && self.idle($0) }
        try type("/ab zero=off")
        try keys("Enter")
        let ab = try waitFor("the A/B screen") { $0.contains("Changed expert choices per layer") }
        for fragment in ["A · live", "B · zero=off", "FFN experts/token", "tok/s", "Routing map of A", "m/Tab map A/B"] {
            #expect(ab.contains(fragment), "\(fragment):\n\(ab)")
        }
        try keys("m")
        try waitFor("the map of B") { $0.contains("Routing map of B") }
        try tmux(["resize-window", "-t", tmuxSession, "-x", "100", "-y", "30"])
        let small = try waitFor("the A/B screen at 100×30") { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: true)
            // The whole screen, not one caught while the resize repaints it (seen under load).
            return screen.contains("Routing map of B") && screen.contains("A · live") && screen.contains("Changed expert choices")
                && lines.count == 30 && lines.allSatisfy { $0.count <= 100 }
        }
        #expect(small.contains("A · live") && small.contains("Changed expert choices"))
        try keys("Escape")
        try waitFor("the playground again") { $0.contains("Chat ·") && $0.contains("Inspector") }
        try keys("F10")
        try waitFor("a clean exit") { $0.contains("\nEXIT=0") }
    }
}
