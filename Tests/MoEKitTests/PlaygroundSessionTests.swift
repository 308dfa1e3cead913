import Foundation
import Testing
@testable import MoEKit

@Suite("Playground session files: typed, versioned, exact")
struct PlaygroundSessionTests {
    /// A session from a real run of a seeded MoE++ checkpoint, with settings off their defaults.
    func recordedSession() throws -> PlaygroundSession {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 3)
        let generator = try Generator(directory: directory)
        var settings = GenerationSettings()
        settings.routing.mask.zeroEnabled = false
        settings.routing.mask.disabledExperts = [1, 3]
        settings.routing.topK = 3
        settings.routing.gatingResidual = false
        settings.routing.adaptiveGate = AdaptiveGate(thresholds: [0.125, 0.3])
        settings.sampling = SamplingSettings(temperature: 0.7, topK: 5, topP: 0.9, seed: UInt64.max - 1)
        generator.controls.update { $0 = settings }
        var tokens: [TokenRouting] = []
        var pieces: [PlaygroundSession.ReplyPiece] = []
        var reply = ""
        let finish = try generator.generate(prompt: "the cat\nsat", maxTokens: 6) { event in
            switch event {
            case .prompt(let report): tokens += report.tokens
            case .token(let report):
                pieces.append(.init(index: tokens.count, text: report.text))
                tokens.append(report.routing)
                reply += report.text
            case .finished(let report): reply += report.trailingText
            }
        }
        let session = SessionSettings(settings, maxTokens: 6, adaptiveEpsilon: 0.02)
        let turn = PlaygroundSession.Turn(prompt: "the cat\nsat", reply: reply, firstToken: 0, replyTokens: pieces,
                                          notice: "a notice", finish: .init(finish), settings: session)
        return PlaygroundSession(model: .init(path: directory, name: "fixture", config: generator.model.config), settings: session,
                                 turns: [turn], tokens: tokens, settingsTimeline: [.init(fromToken: 0, settings: session)], throughput: .init(promptTokensPerSecond: 12.5, decodeTokensPerSecond: 3, recentDecodeRates: [1, 2.5]))
    }

    @Test("saved and loaded, the conversation, settings and trace are exactly the same (every float bit)")
    func roundTrip() throws {
        let session = try recordedSession()
        let data = try session.encoded()
        let loaded = try PlaygroundSession.decode(data, file: "s.json")
        #expect(loaded.version == PlaygroundSession.currentVersion)
        #expect(loaded.model == session.model)
        #expect(loaded.settings == session.settings)
        #expect(loaded.turns == session.turns)
        #expect(loaded.settingsTimeline == session.settingsTimeline && loaded.settings(ofToken: 3) == session.settings)
        #expect(loaded.throughput == session.throughput)
        #expect(loaded.settings.generationSettings == session.settings.generationSettings)
        #expect(loaded.settings.seed == UInt64.max - 1)
        #expect(loaded.tokens.count == session.tokens.count && !session.tokens.isEmpty)
        for (a, b) in zip(loaded.tokens, session.tokens) {
            #expect(a.tokenId == b.tokenId && a.position == b.position && a.text == b.text && a.phase == b.phase)
            for (x, y) in zip(a.layers, b.layers) {
                for (p, q) in [(x.routerLogits, y.routerLogits), (x.residualLogits, y.residualLogits), (x.probabilities, y.probabilities),
                               (x.probabilitiesWithoutResidual, y.probabilitiesWithoutResidual)] {
                    #expect(p.map(\.bitPattern) == q.map(\.bitPattern))
                }
                #expect(x.chosen == y.chosen && x.chosenWithoutResidual == y.chosenWithoutResidual && x.ffnExpertsComputed == y.ffnExpertsComputed)
            }
        }
        #expect(try loaded.encoded() == data, "a loaded session writes back the same bytes")
    }

    @Test("settings are typed JSON: booleans, numbers, arrays — not strings")
    func typedSettings() throws {
        let json = try JSONSerialization.jsonObject(with: try recordedSession().encoded()) as? [String: Any]
        let settings = try #require(json?["settings"] as? [String: Any])
        #expect(settings["zeroExperts"] as? Bool == false)
        #expect(settings["disabledExperts"] as? [Int] == [1, 3])
        #expect(settings["routerTopK"] as? Int == 3)
        #expect(settings["adaptiveEpsilon"] as? Double == 0.02)
        #expect((settings["temperature"] as? NSNumber)?.floatValue == 0.7)
        #expect(json?["version"] as? Int == 1)
    }

    @Test("unknown versions, other JSON and broken fields are refused in one line naming the file and field")
    func refusals() throws {
        var object = try JSONSerialization.jsonObject(with: try recordedSession().encoded()) as! [String: Any]
        object["version"] = 2
        let newer = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: SessionFileError.unsupportedVersion("s.json", 2)) { try PlaygroundSession.decode(newer, file: "s.json") }
        #expect(throws: SessionFileError.notASession("t.json")) { try PlaygroundSession.decode(Data("{\"tokens\": []}".utf8), file: "t.json") }
        #expect(throws: SessionFileError.self) { try PlaygroundSession.decode(Data("[1, 2]".utf8), file: "a.json") }
        object["version"] = 1
        var turns = object["turns"] as! [[String: Any]]
        turns[0]["prompt"] = 5
        object["turns"] = turns
        let broken = try JSONSerialization.data(withJSONObject: object)
        do {
            _ = try PlaygroundSession.decode(broken, file: "b.json")
            Issue.record("a number for a prompt was accepted")
        } catch {
            #expect("\(error)" == "b.json: turns[0].prompt: expected a string")
        }
        // Found by the fuzzer: a kind name with a line break must not break the one-line message.
        turns[0]["prompt"] = "hi"
        object["turns"] = turns
        var model = object["model"] as! [String: Any]
        var kinds = model["expertKinds"] as! [Any]
        kinds[1] = "ff\n1"
        model["expertKinds"] = kinds
        object["model"] = model
        do {
            _ = try PlaygroundSession.decode(try JSONSerialization.data(withJSONObject: object), file: "k.json")
            Issue.record("an unknown expert kind was accepted")
        } catch {
            #expect("\(error)" == "k.json: model.expertKinds[1]: unknown expert kind 'ff\\n1'")
        }
        #expect(throws: SessionFileError.malformed("/nonexistent/s.json", field: "", detail: "no such file")) {
            try PlaygroundSession.load(from: "/nonexistent/s.json")
        }
    }

    @Test("settings a model cannot run are refused before they reach the generator")
    func settingsChecked() throws {
        let session = try recordedSession()
        let config = RandomCheckpoint.tinyConfig(.moepp)
        try session.settings.check(for: config)
        var bad = session.settings
        bad.disabledExperts = [99]
        #expect(throws: SessionFileError.self) { try bad.check(for: config) }
        bad = session.settings
        bad.adaptiveThresholds = [0.1]
        #expect(throws: SessionFileError.self) { try bad.check(for: config) }
        bad = session.settings
        bad.disabledExperts = Array(0..<config.numExperts)
        #expect(throws: RoutingError.noExpertEnabled) { try bad.check(for: config) }
    }

    @Test("a saved session reads as a routing trace (moepp view, moepp stats): its tokens, model name, router width and turns")
    func sessionAsTrace() throws {
        let session = try recordedSession()
        let trace = try TraceReader.read(try session.encoded(), file: "s.json")
        #expect(trace.source == .moepp && trace.model == "fixture")
        #expect(trace.experts == session.model.expertKinds.count)
        #expect(trace.turns == [RoutingTrace.Turn(prompt: "the cat\nsat", reply: session.turns[0].reply)])
        #expect(trace.tokens.map(\.tokenId) == session.tokens.map(\.tokenId))
        #expect(zip(trace.tokens, session.tokens).allSatisfy { a, b in zip(a.layers, b.layers).allSatisfy { $0.chosen == $1.chosen } })
        // The same counts as the session's own trace: nothing lost on the way.
        #expect(ExpertUsage(trace).counts == ExpertUsage(session.routingTrace).counts)
        // A broken session is the session reader's one-line error, not a trace-document one.
        var broken = try JSONSerialization.jsonObject(with: try session.encoded()) as! [String: Any]
        broken["version"] = 99
        #expect(throws: SessionFileError.unsupportedVersion("s.json", 99)) {
            try TraceReader.read(try JSONSerialization.data(withJSONObject: broken), file: "s.json")
        }
    }
}
