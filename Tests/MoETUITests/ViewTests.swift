import Foundation
import Testing
import TestHelpers
@testable import MoEKit
@testable import MoETUI

/// A generator over a seeded random MoE++ checkpoint, and a state fed by its real events.
func makeSession(_ family: ModelFamily = .moepp) throws -> (Generator, PlaygroundState, PlaygroundController) {
    let directory = ScratchSpace.directory + "moepp-tui-\(UUID().uuidString.prefix(8))"
    var config = RandomCheckpoint.tinyConfig(family)
    config.maxPositionEmbeddings = 512
    try RandomCheckpoint.write(config: config, to: directory, seed: 6)
    let generator = try Generator(directory: directory)
    let state = PlaygroundState(config: generator.model.config, modelName: "fixture", settings: generator.controls.current)
    let controller = PlaygroundController(state: state, controls: generator.controls,
                                          layout: ScreenLayout(width: 140, height: 45, config: generator.model.config))
    return (generator, state, controller)
}

func generate(_ generator: Generator, _ state: PlaygroundState, _ prompt: String, tokens: Int = 12) throws {
    state.beginTurn(prompt: prompt)
    try generator.generate(prompt: prompt, maxTokens: tokens) { state.apply($0) }
}

@Suite("Views rendered into an off-screen cell grid")
struct ViewTests {
    @Test("the screen shows chat, map, inspector, statistics, throughput and the key bar")
    func wholeScreen() throws {
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the cat")
        let grid = Screen.render(state, width: 140, height: 45, glyphs: .unicode)
        let text = grid.text
        for title in ["Chat · fixture", "Routing map", "Inspector", "Layers", "Throughput", "F1", "Help", "F2", "Zero"] {
            #expect(text.contains(title), "\(title) on screen")
        }
        #expect(text.contains("› the cat"))
        #expect(grid.text(row: 43).contains("zero on"))
        #expect(text.contains("FFN experts/token/layer"))
    }

    @Test("with an expert cache, statistics show per-layer hit rate and prefetch accuracy, throughput the cache traffic")
    func cacheStatistics() throws {
        let (generator, state, _) = try makeSession()
        let directory = generator.model.weights.directory
        try ExpertCacheSetup.install(on: generator.model, directory: directory, budget: .slots(3), policy: .lru, prefetch: true)
        state.cacheDescription = "3 slots lru + prefetch"
        try generate(generator, state, "the cat", tokens: 16)
        let text = Screen.render(state, width: 140, height: 45, glyphs: .unicode).text
        #expect(text.contains("hit  guess"))
        #expect(text.contains("cache 3 slots lru + prefetch: hit"))
        let traffic = state.sessionStatistics.cacheTotal
        #expect(traffic.requests > 0 && traffic.requests == traffic.hits + traffic.misses)
        #expect(state.sessionStatistics.predictionAccuracy(layer: 0) == nil)
        #expect(state.sessionStatistics.predictionAccuracy(layer: 1) != nil)
        // The inspector on a generated token at layer 1: the prefetcher's guess and the cache's traffic.
        state.selectedToken = state.tokens.count - 1
        state.selectedLayer = 1
        let inspected = Screen.render(state, width: 140, height: 45, glyphs: .unicode).text
        #expect(inspected.contains("prefetch guess "), "\(inspected)")
        #expect(inspected.contains(" hit (") && inspected.contains(" miss, "))
        let statisticsRows = text.split(separator: "\n").filter { $0.contains("│L1") || $0.contains("L1   ") }
        #expect(statisticsRows.contains { $0.contains("%") }, "layer rows carry percentages")
    }

    @Test("map cells show every chosen expert's glyph for the selected token")
    func mapGlyphs() throws {
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the cat and the dog")
        let layout = ScreenLayout(width: 140, height: 45, config: state.config)
        let grid = Screen.render(state, width: 140, height: 45, glyphs: .unicode)
        let last = state.tokens.count - 1
        for layer in 0..<state.config.numLayers {
            let expected = state.tokens[last].layers[layer].chosen.map { ExpertGlyph.glyph($0.kind) }.joined()
            let row = grid.text(row: layout.map.y + 2 + layer)
            #expect(row.contains(expected), "layer \(layer): \(row) should show \(expected)")
        }
        #expect(Set(state.tokens.flatMap { $0.layers.flatMap { $0.chosen.map { ExpertGlyph.glyph($0.kind) } } }).contains("Z"))
    }

    @Test("the inspector marks chosen experts and reports the gating residual")
    func inspector() throws {
        let (generator, state, controller) = try makeSession()
        try generate(generator, state, "and")
        controller.state.selectedLayer = 1
        let grid = Screen.render(state, width: 140, height: 45, glyphs: .unicode)
        let text = grid.text
        #expect(text.contains("layer 1"))
        #expect(text.contains("◆"))
        #expect(text.contains("gating residual"))
        let layer = state.tokens[state.selectedToken].layers[1]
        #expect(text.contains(layer.residualChangedChoice ? "CHANGED" : "kept"))
    }

    @Test("a too-small terminal gets a clear message instead of a garbled layout")
    func tooSmall() throws {
        let (_, state, _) = try makeSession()
        let grid = Screen.render(state, width: 60, height: 20, glyphs: .unicode)
        #expect(grid.text.contains("Terminal too small: need 100×30, have 60×20."))
        #expect(!grid.text.contains("Routing map"))
    }

    @Test("ASCII glyphs when the locale is not UTF-8; letters still carry expert kinds")
    func asciiFallback() throws {
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the cat")
        let grid = Screen.render(state, width: 140, height: 45, glyphs: .ascii)
        #expect(grid.text.allSatisfy { $0.isASCII })
        #expect(grid.text.contains("+-"))
        #expect(grid.text.contains("Z") || grid.text.contains("C") || grid.text.contains("K"))
    }

    @Test("help lists every key binding from the key table and the slash commands")
    func help() throws {
        let (_, state, controller) = try makeSession()
        #expect(controller.handle(.function(1)) == .redraw)
        // At the smallest size the help scrolls: every page, from the top, down to the end.
        var seen = Screen.render(state, width: 100, height: 30, glyphs: .unicode).text
        #expect(seen.contains("↑↓ PgUp PgDn scroll"), "the title says it scrolls")
        for _ in 0..<20 {   // page down until the bottom (the page stops changing)
            _ = controller.handle(.pageDown)
            let page = Screen.render(state, width: 100, height: 30, glyphs: .unicode).text
            if seen.hasSuffix(page) { break }
            seen += page
        }
        for binding in KeyTable.bindings { #expect(seen.contains(binding.summary), "\(binding.summary)") }
        for (command, _) in SlashCommand.usage { #expect(seen.contains(command), "\(command)") }
        #expect(seen.contains("Home") && seen.contains("Alt+Enter / Ctrl+J") && seen.contains("Map glyphs"))
        let bottom = Screen.render(state, width: 100, height: 30, glyphs: .unicode).text
        _ = controller.handle(.home)
        #expect(Screen.render(state, width: 100, height: 30, glyphs: .unicode).text != bottom, "Home goes back to the top")
        #expect(state.helpScroll == 0)
        #expect(controller.handle(.escape) == .redraw)
        #expect(!state.showHelp)
    }

    @Test("reply tokens are tinted by their FFN use")
    func tint() throws {
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the", tokens: 30)
        let layout = ScreenLayout(width: 140, height: 45, config: state.config)
        let grid = Screen.render(state, width: 140, height: 45, glyphs: .unicode)
        var colors = Set<Color>()
        for row in layout.chat.inner.y..<(layout.chat.inner.y + layout.chat.inner.height) {
            for column in layout.chat.inner.x..<(layout.chat.inner.x + layout.chat.inner.width) where grid[row, column].text != " " {
                colors.insert(grid[row, column].style.color)
            }
        }
        #expect(colors.intersection([.cool, .warm, .hot]).count >= 2, "\(colors)")
    }

    @Test("wide characters take two cells and keep columns aligned")
    func wideCharacters() {
        var grid = CellGrid(width: 10, height: 1)
        let used = grid.put("a漢b🙂", row: 0, column: 0)
        #expect(used == 6)
        #expect(grid.text(row: 0) == "a漢b🙂    ")
        #expect(grid[0, 2].text == "")
    }
}

@Suite("Controller: keys, toggles, slash commands")
struct ControllerTests {
    @Test("F2 turns zero experts off in the live controls the generator reads")
    func toggleZero() throws {
        let (generator, state, controller) = try makeSession()
        _ = controller.handle(.function(2))
        #expect(!generator.controls.current.routing.mask.zeroEnabled)
        try generate(generator, state, "the cat and the dog", tokens: 20)
        let generated = state.tokens.filter { $0.phase == "generated" }
        #expect(!generated.isEmpty && generated.allSatisfy { !$0.layers.flatMap(\.chosen).contains { $0.kind == .zero } })
        #expect(Screen.render(state, width: 140, height: 45, glyphs: .unicode).text(row: 43).contains("zero OFF"))
    }

    @Test("slash commands change settings; bad ones explain themselves")
    func slashCommands() throws {
        let (generator, state, controller) = try makeSession()
        func type(_ line: String) -> Effect {
            for character in line { _ = controller.handle(.character(character)) }
            return controller.handle(.enter)
        }
        #expect(type("/topk 1") == .redraw)
        #expect(generator.controls.current.routing.topK == 1)
        _ = type("/temp 0.7")
        #expect(abs(generator.controls.current.sampling.temperature - 0.7) < 1e-6)
        _ = type("/residual off")
        #expect(!generator.controls.current.routing.gatingResidual)
        _ = type("/expert 2 off")
        #expect(generator.controls.current.routing.mask.disabledExperts == [2])
        _ = type("/max 5")
        #expect(state.maxTokens == 5)
        _ = type("/topk zero")
        #expect(state.status?.isError == true && state.status?.text.contains("/topk") == true)
        #expect(type("/export /tmp/x.json") == .save("/tmp/x.json", replace: false))
        #expect(type("/save! /tmp/my session.json") == .save("/tmp/my session.json", replace: true))
        #expect(type("/load /tmp/s.json") == .load("/tmp/s.json"))
        #expect(type("/model /tmp/m") == .switchModel("/tmp/m"))
        #expect(type("/retry") == .redraw && state.status?.text == "/retry: no reply to regenerate yet")
        #expect(type("/clear") == .resetConversation)
        #expect(type("/quit") == .quit)
        #expect(type("hello") == .startGeneration("hello"))
    }

    @Test("Enter sends; Up/Down walk the prompt history; ? types when the line is not empty")
    func editing() throws {
        let (_, state, controller) = try makeSession()
        for character in "hi?" { _ = controller.handle(.character(character)) }
        #expect(state.input.string == "hi?" && !state.showHelp)
        #expect(controller.handle(.enter) == .startGeneration("hi?"))
        state.generating = false
        for character in "second" { _ = controller.handle(.character(character)) }
        _ = controller.handle(.enter)
        _ = controller.handle(.up)
        #expect(state.input.string == "second")
        _ = controller.handle(.up)
        #expect(state.input.string == "hi?")
        _ = controller.handle(.down)
        _ = controller.handle(.down)
        #expect(state.input.isEmpty)
    }

    @Test("Ctrl+C stops a running generation; idle, it quits only when pressed twice")
    func controlC() throws {
        let (_, state, controller) = try makeSession()
        state.generating = true
        #expect(controller.handle(.control("c")) == .stopGeneration)
        state.generating = false
        #expect(controller.handle(.control("c")) != .quit)
        #expect(controller.handle(.control("c")) == .quit)
    }

    @Test("Tab cycles focus; arrows move the map cursor; a click selects a cell")
    func focusAndSelection() throws {
        let (generator, state, controller) = try makeSession()
        try generate(generator, state, "the cat and the dog")
        _ = controller.handle(.tab)
        #expect(state.focus == .map)
        let last = state.tokens.count - 1
        _ = controller.handle(.left)
        _ = controller.handle(.down)
        #expect(state.selectedToken == last - 1 && state.selectedLayer == 1 && !state.followTail)
        let map = controller.layout.map.inner
        _ = controller.handle(.click(row: map.y + 1, column: map.x + 5))
        #expect(state.selectedLayer == 0 && state.focus == .map)
        _ = controller.handle(.backTab)
        #expect(state.focus == .input)
    }

    @Test("/export writes the routing trace atomically as JSON")
    func export() throws {
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the cat")
        let path = ScratchSpace.directory + "trace-\(UUID().uuidString.prefix(6)).json"
        try TraceExport.write(state, to: path)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        #expect((json?["tokens"] as? [Any])?.count == state.tokens.count)
        #expect(!FileManager.default.fileExists(atPath: path + ".partial-\(getpid())"))
    }
}

@Suite("Adaptive gating in the playground")
struct AdaptivePlaygroundTests {
    @Test("F11 needs a calibration; with one it switches adaptive gating on and off")
    func toggle() throws {
        let (generator, state, controller) = try makeSession()
        _ = controller.handle(.function(11))
        #expect(state.status?.isError == true && generator.controls.current.routing.adaptiveGate == nil)
        state.calibration = Calibration(layers: (0..<state.config.numLayers).map { _ in .init(sensitivity: 1, expertDifference: 1, tokens: 1) },
                                        calibrationTokens: 1, defaultEpsilon: 0.01)
        _ = controller.handle(.function(11))
        #expect(generator.controls.current.routing.adaptiveGate != nil)
        #expect(Screen.render(state, width: 140, height: 45, glyphs: .unicode).text(row: 43).contains("adapt ε=0.01"))
        for character in "/adaptive off" { _ = controller.handle(.character(character)) }
        _ = controller.handle(.enter)
        #expect(generator.controls.current.routing.adaptiveGate == nil)
    }
}
