import Foundation
import Testing
import TestHelpers
@testable import MoEKit

/// Drives the real `moepp` binary in tmux, as a person at a 140×45 terminal would.
@Suite("The playground in a real terminal (tmux)", .serialized)
struct TerminalEndToEndTests {
    let tmuxSession = "moepp-e2e-\(getpid())"

    var binary: String {
        let candidates = [Bundle.main.bundleURL, URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug")]
        return candidates.map { $0.appendingPathComponent("moepp").path }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "moepp"
    }

    /// Runs a tmux command. Only capture-pane's output is read; the others discard theirs so
    /// that the tmux server, which the first command starts, inherits nothing of ours.
    @discardableResult
    func tmux(_ arguments: [String]) throws -> String {
        let capture = arguments.first == "capture-pane"
        let result = try ChildProcess.run(["tmux"] + arguments, capture: capture, timeout: 30)
        #expect(!result.timedOut, "tmux \(arguments.joined(separator: " ")) did not finish")
        return result.stdout
    }

    /// A fresh 140×45 tmux session running a plain bash with the prompt "$ ".
    func startShell() throws {
        endShell()
        // A tmux server already running (another session's) does not have our environment:
        // sanitizer settings (make test-sanitize) are passed on explicitly.
        let sanitizer = ["ASAN_OPTIONS", "TSAN_OPTIONS"].compactMap { key in ProcessInfo.processInfo.environment[key].map { "\(key)='\($0)' " } }.joined()
        try tmux(["new-session", "-d", "-s", tmuxSession, "-x", "140", "-y", "45", "env PS1='$ ' \(sanitizer)bash --norc --noprofile"])
    }

    func endShell() { _ = try? tmux(["kill-session", "-t", tmuxSession]) }

    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", tmuxSession]) }

    /// Polls the screen until `condition` holds (or fails after `seconds`).
    @discardableResult
    func waitFor(_ what: String, seconds: Double = 30, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if condition(last) { return last }
            usleep(100_000)
        }
        Issue.record("timed out waiting for \(what); screen:\n\(last)")
        return last
    }

    func keys(_ keys: String...) throws { try tmux(["send-keys", "-t", tmuxSession] + keys) }
    func type(_ text: String) throws { try tmux(["send-keys", "-t", tmuxSession, "-l", text]) }

    func idle(_ screen: String) -> Bool { screen.contains("Prompt ─") || screen.contains("▶ Prompt ─") }

    @Test("type, stream, toggle zero experts off, resize, quit cleanly")
    func fullSession() throws {
        let model = ScratchSpace.directory + "moepp-e2e-model-\(getpid())"
        var config = RandomCheckpoint.tinyConfig(.moepp)
        config.maxPositionEmbeddings = 512
        try RandomCheckpoint.write(config: config, to: model, seed: 6)
        let trace = ScratchSpace.directory + "moepp-e2e-trace-\(getpid()).json"
        try startShell()
        defer { endShell() }
        try type("\(binary) chat --model \(model) --temperature 0; echo EXIT=$?")
        try keys("Enter")
        try waitFor("the playground") { $0.contains("Routing map") && $0.contains("Inspector") }

        try type("the cat")
        try keys("Enter")
        let streamed = try waitFor("a reply") { $0.contains("64 generated") && self.idle($0) }
        #expect(streamed.contains("› the cat"))

        try keys("F2")
        try waitFor("zero off") { $0.contains("zero OFF") }
        try type("/max 12")
        try keys("Enter")
        try type(" and the dog")
        try keys("Enter")
        let after = try waitFor("the second reply") { $0.contains("76 generated") && self.idle($0) }
        // The newest 12 map columns are tokens generated with zero experts off: no Z among them.
        let mapRows = after.split(separator: "\n").filter { $0.contains("│L") }
        #expect(!mapRows.isEmpty)
        for row in mapRows {
            let cells = String(row.split(separator: "│", omittingEmptySubsequences: false).dropFirst(2).first ?? "")
            let recent = cells.trimmingCharacters(in: .whitespaces).suffix(12 * 4)
            #expect(!recent.contains("Z"), "no zero expert after the toggle: \(row)")
        }
        try type("/export \(trace)")
        try keys("Enter")
        try waitFor("the export") { $0.contains("saved 2 turns") }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trace))) as? [String: Any]
        let tokens = (json?["tokens"] as? [[String: Any]]) ?? []
        let lastTwelve = tokens.suffix(12)
        #expect(lastTwelve.count == 12)
        for token in lastTwelve {
            let kinds = ((token["layers"] as? [[String: Any]]) ?? []).flatMap { ($0["chosen"] as? [[String: Any]]) ?? [] }.compactMap { $0["kind"] as? String }
            #expect(!kinds.isEmpty && !kinds.contains("zero"))
        }

        try tmux(["resize-window", "-t", tmuxSession, "-x", "110", "-y", "34"])
        let resized = try waitFor("the new layout") { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: true)
            return screen.contains("Routing map") && lines.count == 34 && lines.allSatisfy { $0.count <= 110 } && screen.contains("F1")
        }
        #expect(resized.split(separator: "\n").contains { $0.hasPrefix("╰") && $0.hasSuffix("╯") })
        try tmux(["resize-window", "-t", tmuxSession, "-x", "80", "-y", "24"])
        try waitFor("the too-small message") { $0.contains("Terminal too small") }
        try tmux(["resize-window", "-t", tmuxSession, "-x", "140", "-y", "45"])
        try waitFor("the full layout again") { $0.contains("Routing map") && !$0.contains("Terminal too small") }

        try keys("C-d")
        // Bash prints its prompt just after EXIT=0: wait for both, or the capture can fall between.
        let final = try waitFor("a clean shell") { screen in
            screen.contains("\nEXIT=0") && screen.split(separator: "\n").last { !$0.isEmpty }?.hasPrefix("$") == true
        }
        #expect(!final.contains("Routing map") && !final.contains("╭"), "the terminal is restored:\n\(final)")
        #expect(final.split(separator: "\n").last { !$0.isEmpty }?.hasPrefix("$") == true)
    }

    @Test("SIGTERM gives the terminal back: no leftover screen, the shell prompt works")
    func terminate() throws {
        let model = ScratchSpace.directory + "moepp-e2e-term-\(getpid())"
        try RandomCheckpoint.write(config: RandomCheckpoint.tinyConfig(.moepp), to: model, seed: 2)
        try startShell()
        defer { endShell() }
        try type("\(binary) chat --model \(model) & pid=$!; fg")
        try keys("Enter")
        try waitFor("the playground") { $0.contains("Routing map") }
        try ChildProcess.run(["pkill", "-TERM", "-f", "moepp chat --model \(model)"], capture: false, timeout: 30)
        let after = try waitFor("the shell") { !$0.contains("Routing map") }
        #expect(!after.contains("╭"))
        try type("echo alive-$((6*7))")
        try keys("Enter")
        try waitFor("a working shell") { $0.contains("alive-42") }
    }

    @Test("with an expert budget the playground streams, shows the cache, and refuses a budget too small")
    func expertCache() throws {
        let model = ScratchSpace.directory + "moepp-e2e-cache-\(getpid())"
        try RandomCheckpoint.write(config: RandomCheckpoint.tinyConfig(.moepp), to: model, seed: 4)
        try startShell()
        defer { endShell() }
        try type("\(binary) chat --model \(model) --expert-budget 1; echo EXIT=$?")
        try keys("Enter")
        let refused = try waitFor("the refusal") { $0.contains("\nEXIT=") }
        #expect(refused.contains("cannot hold one layer's top-2 experts") && refused.contains("EXIT=1"))
        try type("clear; \(binary) chat --model \(model) --expert-budget 3 --temperature 0; echo EXIT=$?")
        try keys("Enter")
        try waitFor("the playground") { $0.contains("Routing map") }
        try type("/max 24")
        try keys("Enter")
        try type("the cat")
        try keys("Enter")
        // Before any reply the pane reads "decode 0.0 tok/s (last reply)".
        let streamed = try waitFor("a reply with cache traffic") {
            $0.contains("(last reply)") && !$0.contains("decode 0.0 tok/s") && self.idle($0)
        }
        let layerRows = streamed.split(separator: "\n").filter { ($0.contains("│L0 ") || $0.contains("│L1 ")) && $0.contains("%") }
        #expect(layerRows.count == 2 && layerRows.allSatisfy { $0.filter { $0 == "%" }.count >= 5 }, "hit rates per layer: \(layerRows)")
        #expect(streamed.contains("cache 3 slots lru + prefetch: hit"))
        #expect(streamed.contains("hit  guess"))
        try keys("C-d")
        try waitFor("a clean shell") { $0.contains("EXIT=0") && !$0.contains("Routing map") }
    }

    @Test("a bad model path fails with one line before the screen is taken")
    func badModel() throws {
        try startShell()
        defer { endShell() }
        try type("\(binary) chat --model /nonexistent/model; echo EXIT=$?")
        try keys("Enter")
        let screen = try waitFor("the error") { $0.contains("\nEXIT=") }
        #expect(screen.contains("moepp: /nonexistent/model: no such model directory"))
        #expect(screen.contains("EXIT=1"))
        #expect(!screen.contains("╭"))
    }
}
