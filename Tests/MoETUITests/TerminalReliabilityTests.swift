import Foundation
import Testing
import TestHelpers
@testable import MoEKit

extension TerminalEndToEndTests {
    @Test("Ctrl+C Ctrl+C during a reply stops it and leaves the playground running; quitting saves the session and prints where")
    func strayControlC() throws {
        let model = ScratchSpace.directory + "moepp-e2e-stray-\(getpid())"
        var config = RandomCheckpoint.tinyConfig(.moepp, hidden: 128, layers: 4)
        config.maxPositionEmbeddings = 4096
        try RandomCheckpoint.write(config: config, to: model, seed: 6)
        let stateHome = ScratchSpace.directory + "moepp-e2e-state-\(getpid())"
        let saved = stateHome + "/moepp/last-session.json"
        try? FileManager.default.removeItem(atPath: stateHome)
        try startShell()
        defer { endShell() }
        try type("XDG_STATE_HOME=\(stateHome) \(binary) chat --model \(model) --temperature 0.8 --seed 3; echo EXIT=$?")
        try keys("Enter")
        try waitFor("the playground") { $0.contains("Routing map") && $0.contains("Inspector") }
        try type("/max 4000")
        try keys("Enter")
        try type("the cat")
        try keys("Enter")
        // At least one token out, so the stopped reply has text whatever the machine's load.
        try waitFor("the reply streaming") { screen in
            screen.contains("generating (Ctrl+C stops)") && screen.range(of: #"session, [1-9][0-9]* generated"#, options: .regularExpression) != nil
        }
        try keys("C-c")
        try keys("C-c")
        let stopped = try waitFor("the reply stopped, the playground still there") { $0.contains("[stopped]") && self.idle($0) }
        #expect(stopped.contains("Routing map") && !stopped.contains("EXIT="))
        usleep(500_000)
        let still = try screen()
        #expect(still.contains("Routing map") && !still.contains("EXIT="), "a stray second Ctrl+C does not quit:\n\(still)")
        // Ctrl+D with a half-typed prompt deletes instead of quitting.
        try type("half")
        try keys("Home")
        try keys("C-d")
        try waitFor("a character deleted") { $0.contains("› alf") }
        #expect(try screen().contains("Routing map"))
        try keys("C-u")
        try keys("F10")
        let final = try waitFor("a clean shell") { screen in
            screen.contains("\nEXIT=0") && screen.split(separator: "\n").last { !$0.isEmpty }?.hasPrefix("$") == true
        }
        #expect(!final.contains("Routing map") && !final.contains("╭"), "the terminal is restored:\n\(final)")
        #expect(final.contains("moepp: conversation saved to \(saved)"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: saved))) as? [String: Any]
        let turns = (json?["turns"] as? [[String: Any]]) ?? []
        #expect(turns.count == 1 && turns.first?["prompt"] as? String == "the cat")
        #expect(((turns.first?["reply"] as? String) ?? "").count > 0)
    }
}
