import Foundation
import Testing
import TestHelpers
@testable import MoEKit
@testable import MoETUI

/// A playground app over a seeded checkpoint, driven without a terminal: commands go through the
/// controller, replies through the real worker thread.
func makeApp(seed: UInt64 = 6, layers: Int = 2) throws -> (PlaygroundApp, String) {
    let directory = ScratchSpace.directory + "moepp-session-\(UUID().uuidString.prefix(8))"
    var config = RandomCheckpoint.tinyConfig(.moepp, layers: layers)
    config.maxPositionEmbeddings = 512
    try RandomCheckpoint.write(config: config, to: directory, seed: seed)
    let controls = LiveControls(GenerationSettings(sampling: SamplingSettings(temperature: 0)))
    let generator = try Generator(directory: directory, controls: controls)
    let app = PlaygroundApp(generator: generator, modelPath: directory, colors: false) { path, controls in
        (try Generator(directory: path, controls: controls), nil)
    }
    app.autosavePath = nil
    return (app, directory)
}

extension PlaygroundApp {
    /// Sends `prompt` (or runs a command line) as typed, and waits for the reply to finish.
    func send(_ line: String) {
        state.input.clear()
        state.input.insert(contentsOf: line)
        switch controller.handle(.enter) {
        case .startGeneration(let prompt): start(prompt)
        case .save(let path, let replace): TraceExport.run(state, to: path, replace: replace)
        case .load(let path): load(path)
        case .switchModel(let path): switchModelCommand(path)
        case .retry: retry()
        default: break
        }
        settle()
    }

    func settle() {
        let deadline = Date().addingTimeInterval(60)
        while (worker.isRunning || state.generating) && Date() < deadline {
            for output in worker.drain() {
                if case .event(let event) = output { state.apply(event) }
                if case .failed(let message) = output { Issue.record("generation failed: \(message)"); state.generating = false }
            }
            usleep(2_000)
        }
        for output in worker.drain() { if case .event(let event) = output { state.apply(event) } }
    }
}

@Suite("Sessions: /save, /load, /retry, /model", .serialized)
struct SessionTests {
    @Test("a saved session, loaded in a new playground, shows the same screen and settings, and the conversation goes on as if never saved")
    func saveLoadContinue() throws {
        let (original, directory) = try makeApp()
        original.send("/max 8")
        original.send("the cat\nsat on")
        original.send("/zero off")
        original.send("/expert 1 off")
        original.send("/topk 3")
        original.send(" and the dog")
        let file = ScratchSpace.directory + "moepp-session-\(UUID().uuidString.prefix(8)).json"
        original.send("/save \(file)")
        #expect(original.state.status?.text.hasPrefix("saved 2 turns") == true, "\(original.state.status?.text ?? "")")

        let (restored, _) = try makeApp()
        restored.send("/load \(file)")
        #expect(restored.state.status?.isError == false, "\(restored.state.status?.text ?? "")")
        #expect(restored.state.modelPath == URL(fileURLWithPath: directory).standardizedFileURL.path)
        #expect(restored.generator.controls.current == original.generator.controls.current)
        #expect(restored.state.maxTokens == 8)
        #expect(restored.state.turns.map(\.prompt) == ["the cat\nsat on", " and the dog"])
        #expect(restored.state.turns.map(\.reply) == original.state.turns.map(\.reply))
        #expect(try restored.state.session().encoded() == original.state.session().encoded(), "conversation, settings and trace exactly")
        for (width, height) in [(140, 45), (100, 30)] {
            let a = Screen.render(original.state, width: width, height: height, glyphs: .unicode).text
            let b = Screen.render(restored.state, width: width, height: height, glyphs: .unicode).text
            // The status line says what each did last; everything else is the same.
            let (aRows, bRows) = (a.split(separator: "\n"), b.split(separator: "\n"))
            #expect(aRows.count == bRows.count)
            for (row, (x, y)) in zip(aRows, bRows).enumerated() where row != height - 2 { #expect(x == y, "row \(row)") }
        }

        // The next reply is the one the unsaved playground gives: the cache was rebuilt exactly.
        original.send(" then")
        restored.send(" then")
        #expect(restored.state.turns.last?.reply == original.state.turns.last?.reply)
        let a = original.state.tokens.suffix(10).map(\.tokenId), b = restored.state.tokens.suffix(10).map(\.tokenId)
        #expect(a == b && !a.isEmpty)
        #expect(restored.state.tokens.last?.position == original.state.tokens.last?.position)
    }

    @Test("/load refuses other versions, broken files and a model that is gone, and leaves the playground as it was")
    func loadRefusals() throws {
        let (app, _) = try makeApp()
        app.send("/max 4")
        app.send("the cat")
        let before = try app.state.session().encoded()
        let file = ScratchSpace.directory + "moepp-session-\(UUID().uuidString.prefix(8)).json"
        try app.state.session().save(to: file, replace: false)
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
        func attempt(_ change: (inout [String: Any]) -> Void, _ expected: String) throws {
            var edited = object
            change(&edited)
            let path = file + ".edited.json"
            try JSONSerialization.data(withJSONObject: edited).write(to: URL(fileURLWithPath: path))
            app.send("/load \(path)")
            #expect(app.state.status?.isError == true && app.state.status?.text.contains(expected) == true, "\(app.state.status?.text ?? "")")
            #expect(!(app.state.status?.text.contains("\n") ?? true))
            #expect(try app.state.session().encoded() == before, "nothing changed")
        }
        try attempt({ $0["version"] = 99 }, "session version 99 is not supported")
        try attempt({ $0["version"] = nil }, "not a moepp session")
        try attempt({ $0["model"] = ["path": "/nonexistent/model"].merging(($0["model"] as! [String: Any])) { new, _ in new } }, "model.path")
        try attempt({ var s = $0["settings"] as! [String: Any]; s["routerTopK"] = 99; $0["settings"] = s }, "settings.routerTopK")
        try attempt({ var t = $0["turns"] as! [[String: Any]]; t[0]["firstToken"] = 10_000; $0["turns"] = t }, "turns[0].firstToken")
        object["version"] = 1
        app.send("/load /nonexistent/session.json")
        #expect(app.state.status?.text == "not loaded: /nonexistent/session.json: no such file")
    }

    @Test("/retry at temperature 0 gives the same reply again; with a toggle changed, a reply under the new setting")
    func retry() throws {
        let (app, _) = try makeApp()
        app.send("/max 10")
        app.send("the cat")
        app.send(" and the")
        let first = app.state.turns.last!.reply
        let tokens = app.state.tokens.count
        app.send("/retry")
        #expect(app.state.turns.count == 2 && app.state.turns.last?.reply == first)
        #expect(app.state.tokens.count == tokens)
        #expect(app.state.tokens.last?.position == tokens - 1, "the retried turn replaced the old one in the model's context")
        app.send("/zero off")
        app.send("/retry")
        let kinds = app.state.turns.last!.replyTokens.flatMap { app.state.tokens[$0.index].layers.flatMap(\.chosen) }.map(\.kind)
        #expect(!kinds.isEmpty && !kinds.contains(.zero))
        #expect(app.state.turns.last?.settings?.zeroExperts == false)
    }

    @Test("/model switches in place; a bad path leaves the current model running")
    func switchModel() throws {
        let (app, _) = try makeApp()
        app.send("/max 4")
        app.send("the cat")
        let name = app.state.modelName
        app.send("/model /nonexistent/model")
        #expect(app.state.status?.isError == true && app.state.status?.text.hasPrefix("model not switched: /nonexistent/model") == true)
        #expect(app.state.modelName == name && app.state.turns.count == 1)
        let other = ScratchSpace.directory + "moepp-other-\(UUID().uuidString.prefix(8))"
        try RandomCheckpoint.write(config: RandomCheckpoint.tinyConfig(.moepp, layers: 3), to: other, seed: 9)
        app.send("/model \(other)")
        #expect(app.state.status?.isError == false, "\(app.state.status?.text ?? "")")
        #expect(app.state.config.numLayers == 3 && app.state.turns.isEmpty && app.generator.model.config.numLayers == 3)
        app.send("the dog")
        #expect(app.state.tokens.first?.layers.count == 3 && !app.state.turns[0].reply.isEmpty)
    }
}
