import Foundation
import Testing
import TestHelpers
@testable import MoEKit
@testable import MoETUI

/// Issue 11 in the playground: a full context, masks that route nothing, the FFN-saved
/// baseline, `/export` targets, quitting by accident and losing the conversation.
@Suite("Playground reliability: context window, masks, savings, export targets, quitting")
struct PlaygroundReliabilityTests {
    func type(_ line: String, _ controller: PlaygroundController) -> Effect {
        for character in line { _ = controller.handle(.character(character)) }
        return controller.handle(.enter)
    }

    func tinyContextSession(_ context: Int) throws -> Generator {
        let directory = ScratchSpace.directory + "moepp-window-\(UUID().uuidString.prefix(8))"
        var config = RandomCheckpoint.tinyConfig(.moepp)
        config.maxPositionEmbeddings = context
        try RandomCheckpoint.write(config: config, to: directory, seed: 6)
        return try Generator(directory: directory)
    }

    /// What the app does on Enter, synchronously.
    func send(_ prompt: String, _ generator: Generator, _ state: PlaygroundState) throws {
        let plan = ContextWindow.plan(generator, turns: state.turns, prompt: prompt, maxTokens: state.maxTokens)
        state.beginTurn(prompt: prompt, notice: plan.notice)
        try plan.run(on: generator) { state.apply($0) }
    }

    @Test("a full context slides over earlier turns with a notice; a prompt longer than the context is cut with a notice")
    func slidingWindow() throws {
        let generator = try tinyContextSession(128)
        let state = PlaygroundState(config: generator.model.config, modelName: "tiny", settings: generator.controls.current)
        state.maxTokens = 16
        for turn in 0..<10 {
            try send("the cat and the dog \(turn)", generator, state)
            let last = try #require(state.turns.last)
            #expect(last.replyTokens.count > 0, "turn \(turn) got a reply")
            #expect(generator.cache.length <= 128)
        }
        let notices = state.turns.compactMap(\.notice)
        #expect(notices.contains { $0.contains("dropped the") && $0.contains("oldest turn") && $0.contains("re-read the last") }, "\(notices)")
        // The window holds the newest turns: their text is what the model re-read.
        let plan = ContextWindow.plan(generator, turns: state.turns, prompt: "and then", maxTokens: 200)
        if let replay = plan.replay, plan.keptTurns > 0 {
            #expect(generator.tokenizer.decode(replay.flatMap(\.ids)).hasSuffix(state.turns.last!.reply))
        }
        // A paste longer than the whole context: its last tokens, a notice, and a reply.
        let paste = String(repeating: "the cat sat on the mat and ", count: 20)
        try send(paste, generator, state)
        let last = try #require(state.turns.last)
        #expect(last.notice?.contains("reads only its last") == true, "\(last.notice ?? "no notice")")
        #expect(last.replyTokens.count > 0)
        #expect(Screen.render(state, width: 140, height: 45, glyphs: .unicode).text.contains("· context window (128 tokens) full"))
    }

    @Test("a toggle that would leave no expert enabled is refused with one line; the gate never sees it")
    func noExpertLeft() throws {
        let (generator, state, controller) = try makeSession()
        for expert in 0..<state.config.numFFNExperts { _ = type("/expert \(expert) off", controller) }
        _ = type("/zero off", controller)
        _ = type("/constant off", controller)
        #expect(generator.controls.current.routing.mask.allowsAny(state.config))
        _ = type("/copy off", controller)
        #expect(state.status?.isError == true && state.status?.text.contains("every expert is disabled") == true, "\(state.status?.text ?? "")")
        #expect(generator.controls.current.routing.mask.copyEnabled, "the copy expert stays on")
        _ = controller.handle(.function(3))
        #expect(state.status?.isError == true && generator.controls.current.routing.mask.copyEnabled, "F3 refuses too")
        try generate(generator, state, "the cat", tokens: 4)
        #expect(state.tokens.allSatisfy { $0.layers.allSatisfy { $0.chosen.map(\.kind) == [.copy] } }, "only copy is left to route to")
    }

    @Test("adaptive gating at top-1 says it is idle, in the status line and the toggle bar")
    func adaptiveIdle() throws {
        let (_, state, controller) = try makeSession()
        state.calibration = Calibration(layers: (0..<state.config.numLayers).map { _ in .init(sensitivity: 1, expertDifference: 1, tokens: 1) },
                                        calibrationTokens: 1, defaultEpsilon: 0.01)
        _ = type("/adaptive on", controller)
        #expect(state.status?.isError == false)
        _ = type("/topk 1", controller)
        #expect(state.status?.text.contains("nothing to drop at top-1") == true)
        #expect(Screen.render(state, width: 140, height: 45, glyphs: .unicode).text(row: 43).contains("adapt idle at k=1"))
        _ = type("/topk 3", controller)
        #expect(state.status?.isError == false)
    }

    @Test("FFN compute saved: no tokens shows no figure, k above the FFN experts counts the FFN experts, mixed k averages per token")
    func savedBaseline() throws {
        let (generator, state, controller) = try makeSession()
        #expect(ThroughputView.savedLine(state.sessionStatistics).contains("no tokens yet"))
        #expect(!Screen.render(state, width: 140, height: 45, glyphs: .unicode).text.contains("100%"))
        // k = 8 on a model with 4 FFN experts: a vanilla MoE could run at most 4.
        _ = type("/topk 8", controller)
        try generate(generator, state, "the cat", tokens: 6)
        let wide = ThroughputView.savedLine(state.sessionStatistics)
        #expect(wide.contains("vs 4.00 for vanilla top-4"), "\(wide)")
        #expect(state.sessionStatistics.savedFFNShare.map { $0 >= 0 && $0 <= 1 } == true)
        // Then k = 1: the baseline is the per-token mean of min(k, 4), not the current k.
        _ = type("/topk 1", controller)
        try generate(generator, state, " and", tokens: 6)
        let perToken = state.tokens.map { token in token.layers.map { min($0.chosen.count, 4) }.reduce(0, +) }
        let expected = Double(perToken.reduce(0, +)) / Double(state.tokens.count * state.config.numLayers)
        #expect(abs((state.sessionStatistics.meanVanillaFFN ?? 0) - expected) < 1e-9)
        #expect(expected > 1 && expected < 4)
        let mixed = ThroughputView.savedLine(state.sessionStatistics)
        #expect(mixed.contains(String(format: "vanilla (mean %.2f)", expected)), "\(mixed)")
    }

    @Test("/export writes only regular files: new, existing (asks, /export! replaces), symlink, directory, FIFO, device")
    func exportTargets() throws {
        let (generator, state, controller) = try makeSession()
        try generate(generator, state, "the cat", tokens: 4)
        let directory = ScratchSpace.directory + "moepp-export-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func run(_ line: String) {
            if case .save(let path, let replace) = type(line, controller) { TraceExport.run(state, to: path, replace: replace) } else { Issue.record("\(line) is not an export") }
        }
        func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
        func isTrace(_ path: String) -> Bool {
            guard let data = FileManager.default.contents(atPath: path) else { return false }
            return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["tokens"] != nil
        }
        func leftovers() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.contains(".moepp-") } }

        // A new file.
        let fresh = directory + "/trace.json"
        run("/export \(fresh)")
        #expect(state.status?.isError == false && isTrace(fresh))
        // An existing file: asked, not touched; /export! replaces it.
        let unrelated = directory + "/notes.txt"
        try "keep me".write(toFile: unrelated, atomically: true, encoding: .utf8)
        run("/export \(unrelated)")
        #expect(state.status?.isError == true && state.status?.text.contains("/save! ") == true, "\(state.status?.text ?? "")")
        #expect(contents(unrelated) == "keep me")
        run("/export! \(unrelated)")
        #expect(state.status?.isError == false && isTrace(unrelated))
        // A symbolic link: refused in both forms; the link and its target stay as they were.
        let target = directory + "/target.txt", link = directory + "/link.json"
        try "target".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        for form in ["/export", "/export!"] {
            run("\(form) \(link)")
            #expect(state.status?.isError == true && state.status?.text.contains("symbolic link") == true)
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target && contents(target) == "target")
        // A directory, a FIFO, a device.
        let fifo = directory + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        for (path, what) in [(directory, "a directory"), (fifo, "a FIFO"), ("/dev/null", "a device")] {
            for form in ["/export", "/export!"] {
                run("\(form) \(path)")
                #expect(state.status?.isError == true && state.status?.text.contains(what) == true, "\(path): \(state.status?.text ?? "")")
            }
        }
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(lstat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        // A missing directory: one line, nothing created.
        run("/export \(directory)/missing/trace.json")
        #expect(state.status?.isError == true && state.status?.text.contains("\n") == false)
        #expect(leftovers().isEmpty, "no temporary files left: \(leftovers())")
    }

    @Test("Ctrl+D deletes while a prompt is typed and quits only from an empty prompt; a stray Ctrl+C never quits")
    func accidentalQuit() throws {
        let (_, state, controller) = try makeSession()
        for character in "half typed" { _ = controller.handle(.character(character)) }
        _ = controller.handle(.home)
        #expect(controller.handle(.control("d")) == .redraw)
        #expect(state.input.string == "alf typed")
        _ = controller.handle(.tab)
        #expect(controller.handle(.control("d")) != .quit, "not from the map either")
        _ = controller.handle(.escape)
        // Ctrl+C with text clears it; idle and empty, it asks; any other key cancels the question.
        #expect(controller.handle(.control("c")) == .redraw && state.input.isEmpty)
        #expect(controller.handle(.control("c")) != .quit && state.status?.text.contains("Ctrl+C again quits") == true)
        _ = controller.handle(.character("x"))
        _ = controller.handle(.control("u"))
        #expect(controller.handle(.control("c")) != .quit)
        #expect(controller.handle(.control("c")) == .quit)
        #expect(controller.handle(.control("d")) == .quit, "an empty prompt quits")
        // During a reply: Ctrl+C stops, a second one (the reply still winding down) stops again.
        state.generating = true
        #expect(controller.handle(.control("c")) == .stopGeneration)
        #expect(controller.handle(.control("c")) == .stopGeneration)
    }

    @Test("the session autosave holds the conversation and its trace; an empty session saves nothing")
    func autosave() throws {
        let (generator, state, _) = try makeSession()
        let root = ScratchSpace.directory + "moepp-state-\(UUID().uuidString.prefix(8))"
        let path = try #require(SessionAutosave.path(environment: ["XDG_STATE_HOME": root, "HOME": "/nonexistent"]))
        #expect(path == root + "/moepp/last-session.json")
        #expect(SessionAutosave.path(environment: ["HOME": "/home/u"]) == "/home/u/.local/state/moepp/last-session.json")
        #expect(try SessionAutosave.save(state, to: path) == false)
        #expect(!FileManager.default.fileExists(atPath: path))
        try generate(generator, state, "the cat", tokens: 4)
        #expect(try SessionAutosave.save(state, to: path))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        #expect((json?["turns"] as? [[String: Any]])?.first?["prompt"] as? String == "the cat")
        #expect((json?["tokens"] as? [Any])?.count == state.tokens.count)
        #expect(try SessionAutosave.save(state, to: path), "the next save replaces the last")
    }

    @Test("'stopping…' gives way to 'stopped' when the stop completes; /clear resets the throughput pane")
    func stopAndClear() throws {
        let (generator, state, controller) = try makeSession()
        state.beginTurn(prompt: "the cat")
        #expect(controller.handle(.control("c")) == .stopGeneration)
        #expect(state.status?.text == "stopping…")
        try generator.generate(prompt: "the cat", maxTokens: 8, shouldStop: { true }) { state.apply($0) }
        #expect(state.status?.text == "stopped" && !state.generating)
        try generate(generator, state, " and", tokens: 4)
        #expect(state.decodeTokensPerSecond > 0 && state.promptTokensPerSecond > 0)
        #expect(type("/clear", controller) == .resetConversation)
        #expect(state.decodeTokensPerSecond == 0 && state.promptTokensPerSecond == 0 && state.rateHistory.isEmpty)
        #expect(Screen.render(state, width: 140, height: 45, glyphs: .unicode).text.contains("decode 0.0 tok/s"))
    }
}
