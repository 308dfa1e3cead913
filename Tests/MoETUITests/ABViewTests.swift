import Foundation
import Testing
import TestHelpers
@testable import MoEKit
@testable import MoETUI

@Suite("The A/B screen (/ab)")
struct ABViewTests {
    func type(_ line: String, _ controller: PlaygroundController) -> Effect {
        for character in line { _ = controller.handle(.character(character)) }
        return controller.handle(.enter)
    }

    /// A session with one reply, then `/ab SETTING` run to the end as the app would.
    func replayed(_ setting: String) throws -> (PlaygroundState, PlaygroundController, SettingsComparison) {
        let (generator, state, controller) = try makeSession()
        try generate(generator, state, "the cat and the dog")
        guard case .abReplay(let replay) = type("/ab " + setting, controller) else {
            Issue.record("no replay: \(state.status?.text ?? "")")
            throw CancellationError()
        }
        #expect(replay.a.sampling.temperature == 0 && replay.b.sampling.temperature == 0, "both sides greedy")
        let comparison = try replay.run(model: generator.model, tokenizer: generator.tokenizer)
        state.apply(.finished(comparison))
        return (state, controller, comparison)
    }

    @Test("renders at 100×30 and 140×45: both replies, the divergence mark, per-layer bars, cost, speed and the map", arguments: [(100, 30), (140, 45)])
    func renders(size: (width: Int, height: Int)) throws {
        let (state, controller, comparison) = try replayed("top-k=1")
        controller.layout = ScreenLayout(width: size.width, height: size.height, config: state.config)
        #expect(state.ab.visible && !state.generating)
        let grid = Screen.render(state, width: size.width, height: size.height, glyphs: .unicode)
        let text = grid.text
        for fragment in ["A · live", "B · top-k=1", "Changed expert choices per layer", "FFN experts/token", "decode ", "tok/s",
                         "Routing map of A", "map A/B", "L0", "L1"] {
            #expect(text.contains(fragment), "\(fragment) at \(size)\n\(text)")
        }
        // Top-1 against top-2 changes every compared token-layer: both bars read 100 %.
        #expect(text.components(separatedBy: "100%").count - 1 == 2, "\(text)")
        if let divergence = comparison.divergence {
            #expect(text.contains("‖") && text.contains("‖ at reply token \(divergence)"))
        } else {
            #expect(text.contains("identical replies"))
        }
        // Every line fits: no row is wider than the screen.
        #expect(text.split(separator: "\n", omittingEmptySubsequences: false).count == size.height)
        let ascii = Screen.render(state, width: size.width, height: size.height, glyphs: .ascii).text
        #expect(!ascii.contains("‖") && ascii.contains("Routing map of A"))
    }

    @Test("the map marks (reversed) exactly the cells whose expert set changed, and m flips it to B")
    func mapMarksChanges() throws {
        let (state, controller, comparison) = try replayed("zero=off")
        let (width, height) = (140, 45)
        controller.layout = ScreenLayout(width: width, height: height, config: state.config)
        let map = ABLayout(width: width, height: height, layers: state.config.numLayers).map.inner
        let columns = ABMapView.columns(ABLayout(width: width, height: height, layers: state.config.numLayers).map)
        let first = ABMapView.centredFirstToken(comparison, columns: columns)
        for (side, other, title) in [(comparison.a, comparison.b, "Routing map of A"), (comparison.b, comparison.a, "Routing map of B")] {
            let grid = Screen.render(state, width: width, height: height, glyphs: .unicode)
            #expect(grid.text.contains(title))
            for layer in 0..<state.config.numLayers {
                for offset in 0..<min(columns, side.trace.count - first) {
                    let position = first + offset
                    let cell = grid[map.y + 1 + layer, map.x + ABMapView.labelWidth + offset * ABMapView.columnWidth]
                    let expected = position < comparison.comparedPositions
                        && Set(side.trace[position].layers[layer].chosen.map(\.index)) != Set(other.trace[position].layers[layer].chosen.map(\.index))
                    #expect(cell.style.reverse == expected, "position \(position) layer \(layer)")
                }
            }
            _ = controller.handle(.character("m"))
        }
        #expect(comparison.changedChoices > 0)
        #expect(controller.handle(.escape) == .redraw && !state.ab.visible)
        #expect(Screen.render(state, width: width, height: height, glyphs: .unicode).text.contains("Chat · fixture"))
        _ = type("/ab", controller)
        #expect(state.ab.visible, "/ab alone shows the last comparison again")
    }

    @Test("a 48-layer model keeps every layer's share on the 100×30 screen; 120 layers name the ones shown")
    func manyLayers() throws {
        for (layers, shown) in [(48, 48), (120, 48)] {
            let directory = ScratchSpace.directory + "moepp-ab-layers-\(UUID().uuidString.prefix(8))"
            try RandomCheckpoint.write(config: RandomCheckpoint.tinyConfig(.moepp, hidden: 16, layers: layers), to: directory, seed: 3)
            let generator = try Generator(directory: directory)
            let state = PlaygroundState(config: generator.model.config, modelName: "fixture", settings: generator.controls.current)
            let replay = SettingsReplay(prompt: "the cat", maxTokens: 2, a: GenerationSettings(),
                                        b: GenerationSettings(routing: RoutingControls(topK: 1)))
            state.apply(.finished(try replay.run(model: generator.model, tokenizer: generator.tokenizer)))
            let text = Screen.render(state, width: 100, height: 30, glyphs: .unicode).text
            // Top-1 against top-2 changes every compared token-layer: one 100 % per layer shown.
            #expect(text.components(separatedBy: "100%").count - 1 == shown, "\(layers) layers:\n\(text)")
            #expect(text.contains("L\(shown - 1) "))
            #expect(text.contains("layers 0–\(shown - 1) of \(layers)") == (shown < layers))
        }
    }

    @Test("/ab refuses bad settings, an empty session and a busy generator in one status line")
    func refusals() throws {
        let (_, state, controller) = try makeSession()
        #expect(type("/ab zero=off", controller) == .redraw)
        #expect(state.status?.text.contains("send one first") == true)
        #expect(type("/ab", controller) == .redraw && state.status?.text.contains("no A/B replay yet") == true)
        #expect(type("/ab zero=sometimes", controller) == .redraw)
        #expect(state.status?.text.contains("'zero=sometimes'") == true && state.status?.isError == true)
        state.turns.append(Turn(prompt: "hi"))
        #expect(type("/ab disable=99", controller) == .redraw && state.status?.text.contains("experts 0…7") == true)
        state.generating = true
        #expect(type("/ab zero=off", controller) == .redraw && state.status?.text.contains("still generating") == true)
    }
}
