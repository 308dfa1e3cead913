import Foundation
import Testing
@testable import MoEKit
@testable import MoETUI

/// The playground at the sizes people use (100×30, 140×45) for fine-grained MoE — DeepSeek-shaped:
/// 64 experts, top-8, 2 shared experts, a dense first layer — and for the shipped moe-tiny (top-2 of
/// 8, no zero-computation experts, no gating residual).
@Suite("Views for fine-grained MoE and for a vanilla MoE")
struct FineGrainedViewTests {
    static let sizes = [(100, 30), (140, 45)]

    /// Qwen2-MoE, fine-grained: 64 experts of width 16, top-8 unnormalised, gated shared experts
    /// of width 32, layer 0 dense (width 64). The engine builds one shared expert per layer.
    static func fineGrainedConfig(layers: Int, sharedExperts: Int) -> ModelConfig {
        var config = RandomCheckpoint.tinyConfig(.qwen2MoE, layers: layers, ffnExperts: 64, intermediate: 16)
        config.topK = 8
        config.sharedExperts = sharedExperts
        config.sharedIntermediateSize = 32
        config.sharedExpertGate = true
        config.normalizeTopK = false
        config.denseLayers = [0]
        config.denseIntermediateSize = 64
        return config
    }

    /// A DeepSeek-shaped session without a checkpoint (the engine reads one shared expert per
    /// Qwen2-MoE layer; this config asks for two): the real `Gate` picks top-8 of 64 over seeded
    /// random logits, each shared expert gets a sigmoid weight, layer 0 is dense — the records
    /// are shaped exactly as `MoELayer` and `FeedForward.dense` write them.
    static func fineGrainedState(tokens: Int = 24) -> PlaygroundState {
        let config = fineGrainedConfig(layers: 4, sharedExperts: 2)
        let state = PlaygroundState(config: config, modelName: "fine-grained", settings: GenerationSettings())
        var random = SeededRandom(seed: 9)
        let gate = Gate(config: config)
        for t in 0..<tokens {
            let layers = (0..<config.numLayers).map { l -> LayerRouting in
                guard !config.isDense(layer: l) else {
                    return LayerRouting(layer: l, routerLogits: [], residualLogits: [], probabilities: [], chosen: [], probabilitiesWithoutResidual: [],
                                        chosenWithoutResidual: [], ffnExpertsComputed: 0, shared: [ChosenExpert(index: 0, kind: .shared(0), weight: 1)])
                }
                let logits = random.normals(config.numExperts, scale: 2)
                let decision = gate.decide(logits, controls: RoutingControls())
                let chosen = zip(decision.chosen, decision.weights).map { ChosenExpert(index: $0, kind: config.kind(ofExpert: $0), weight: $1) }
                let shared = (0..<2).map { ChosenExpert(index: $0, kind: .shared($0), weight: 1 / (1 + expf(-random.normal()))) }
                return LayerRouting(layer: l, routerLogits: logits, residualLogits: logits, probabilities: decision.probabilities, chosen: chosen,
                                    probabilitiesWithoutResidual: decision.probabilities, chosenWithoutResidual: decision.chosen,
                                    ffnExpertsComputed: chosen.filter { $0.weight != 0 }.count, shared: shared)
            }
            state.append(TokenRouting(position: t, tokenId: t, text: t % 3 == 0 ? " everything" : " t\(t)", phase: "prompt", layers: layers))
        }
        return state
    }

    /// The shipped moe-tiny after one short reply, greedy.
    static func moeTinySession() throws -> (Generator, PlaygroundState, PlaygroundController) {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Assets/models/moe-tiny").path
        let generator = try Generator(directory: directory)
        generator.controls.update { $0.sampling.temperature = 0 }
        let state = PlaygroundState(config: generator.model.config, modelName: "moe-tiny", settings: generator.controls.current)
        let controller = PlaygroundController(state: state, controls: generator.controls, layout: ScreenLayout(width: 140, height: 45, config: generator.model.config))
        state.beginTurn(prompt: "KING. What say you")
        try generator.generate(prompt: "KING. What say you", maxTokens: 4) { state.apply($0) }
        return (generator, state, controller)
    }

    /// Text a pane would draw outside its own rectangle: drawn alone on a blank grid, every cell
    /// outside `rect` must stay blank — else the neighbour drawn later would cut it without a mark.
    static func overruns(_ state: PlaygroundState, width: Int, height: Int) -> [String] {
        let layout = ScreenLayout(width: width, height: height, config: state.config)
        let panes: [(String, Rect, (inout CellGrid) -> Void)] = [
            ("chat", layout.chat, { ChatView.draw(into: &$0, layout.chat, state) }),
            ("map", layout.map, { RoutingMapView.draw(into: &$0, layout.map, state) }),
            ("inspector", layout.inspector, { InspectorView.draw(into: &$0, layout.inspector, state) }),
            ("statistics", layout.statistics, { StatisticsView.draw(into: &$0, layout.statistics, state) }),
            ("throughput", layout.throughput, { ThroughputView.draw(into: &$0, layout.throughput, state) }),
        ]
        var found: [String] = []
        for (name, rect, draw) in panes {
            var grid = CellGrid(width: width, height: height)
            draw(&grid)
            for row in 0..<height {
                for column in 0..<width where !rect.contains(row: row, column: column) && grid[row, column].text != " " {
                    found.append("\(name) wrote outside its pane at \(row),\(column): \(grid.text(row: row))")
                }
            }
        }
        return found
    }

    /// The routing panes, the status line and the key bar (not the chat, whose text is the model's).
    static func routingText(_ grid: CellGrid, _ layout: ScreenLayout) -> String {
        let body = (0..<layout.statusRow).map { row in (layout.map.x..<grid.width).map { grid[row, $0].text }.joined() }
        return (body + [grid.text(row: layout.statusRow), grid.text(row: layout.keyBarRow)]).joined(separator: "\n")
    }

    static func rows(_ grid: CellGrid, _ rect: Rect) -> [String] {
        (rect.inner.y..<(rect.inner.y + rect.inner.height)).map { row in
            (rect.inner.x..<(rect.inner.x + rect.inner.width)).map { grid[row, $0].text }.joined()
        }
    }

    @Test("top-8 of 64 with 2 shared: summary cells, no Z/C/K, nothing drawn past a pane, ids past z")
    func fineGrainedScreens() throws {
        let state = Self.fineGrainedState()
        state.selectedLayer = 2
        for (width, height) in Self.sizes {
            let grid = Screen.render(state, width: width, height: height, glyphs: .unicode)
            let layout = ScreenLayout(width: width, height: height, config: state.config)
            let text = Self.routingText(grid, layout)
            #expect(Self.overruns(state, width: width, height: height).isEmpty, "\(Self.overruns(state, width: width, height: height))")
            for absent in ["Z zero", "C copy", "K constant", "zero on", "resid", "F2", "F5", "Resid", "p no-res", "FFN    Z"] {
                #expect(!text.contains(absent), "\(width)×\(height): \(absent)")
            }
            let title = grid.text(row: layout.map.y)
            #expect(title.contains("N FFN experts run · S always on"), "\(title)")
            // Each MoE layer's cell of the newest token: "8S" (8 FFN experts ran, shared always on); the dense layer "S".
            // Layers that do not fit are named in the title.
            let mapRows = Self.rows(grid, layout.map)
            let last = state.tokens.count - 1
            let shown = mapRows.filter { $0.hasPrefix("L") }
            #expect(shown.count == state.config.numLayers || title.contains(" of \(state.config.numLayers) "), "\(title)")
            #expect(shown.contains { $0.hasPrefix("L2 ") })
            for row in shown {
                let layer = Int(row.dropFirst().prefix { $0.isNumber })!
                let expected = state.config.isDense(layer: layer) ? "S" : "\(state.tokens[last].layers[layer].ffnExpertsComputed)S"
                #expect(row.contains(expected) && !row.contains { "ZCK+".contains($0) }, "\(row)")
            }
            // Token labels longer than a cell end in the mark; none is cut silently.
            #expect(mapRows[0].contains("ev…") && !mapRows[0].contains("eve"), "\(mapRows[0])")
            // Ids of any size: the inspector names experts past ffn35 and draws no "+" glyph for them.
            let inspector = Self.rows(grid, layout.inspector)
            let ranked = state.tokens[last].layers[2].chosen.sorted { $0.weight > $1.weight }
            #expect(inspector.contains { $0.hasPrefix("shared0 ") && $0.contains("always on") } && inspector.contains { $0.hasPrefix("shared1 ") && $0.contains("always on") })
            // Ranked by weight: the chosen experts follow the shared ones, heaviest first.
            let names = inspector.compactMap { line in line.split(separator: " ").first.map(String.init) }.filter { $0.hasPrefix("ffn") }
            #expect(Array(names.prefix(min(names.count, 8))) == Array(ranked.map(\.kind.description).prefix(min(names.count, 8))), "\(names)")
            #expect(state.tokens.flatMap { $0.layers.flatMap(\.chosen) }.contains { $0.index >= 36 })
            #expect(inspector.contains { $0.contains(" more (map focused: PgUp/PgDn)") }, "\(inspector)")
            // The load strip: one cell per expert where it fits, else the busiest of each group, and the busiest expert named.
            let statistics = Self.rows(grid, layout.statistics)
            let loads = state.sessionStatistics.relativeLoad(layer: 2)
            let busiest = state.config.kind(ofExpert: loads.indices.max { loads[$0] < loads[$1] }!).description
            let layerRow = statistics.first { $0.hasPrefix("L2 ") } ?? ""
            #expect(layerRow.contains(" \(busiest) "), "\(layerRow)")
            let strip = layerRow.filter { "▁▂▃▄▅▆▇█·".contains($0) }
            let perCell = LoadStrip.perCell(experts: 64, width: strip.count)
            #expect(strip.count == (64 + perCell - 1) / perCell && strip.count >= 16, "\(layerRow)")
            #expect(statistics.first { $0.hasPrefix("L0 ") }?.contains("dense") == true)
        }
    }

    @Test("ASCII glyphs: the cut mark, the load strip and the more line stay ASCII")
    func fineGrainedASCII() {
        let state = Self.fineGrainedState()
        state.selectedLayer = 2
        let text = Screen.render(state, width: 100, height: 30, glyphs: .ascii).text
        #expect(text.allSatisfy { $0.isASCII })
        #expect(text.contains("~ 63 more (map focused: PgUp/PgDn)") && text.contains("ev~"), "\(text)")
    }

    @Test("the inspector scrolls with PgUp/PgDn from the map and says what is above and below")
    func inspectorScrolls() throws {
        let state = Self.fineGrainedState()
        let controls = LiveControls()
        let controller = PlaygroundController(state: state, controls: controls, layout: ScreenLayout(width: 100, height: 30, config: state.config))
        state.selectedLayer = 1
        state.focus = .map
        let layout = ScreenLayout(width: 100, height: 30, config: state.config)
        func inspector() -> [String] { Self.rows(Screen.render(state, width: 100, height: 30, glyphs: .unicode), layout.inspector) }
        let before = inspector()
        let moreLine = before.first { $0.contains(" more (") } ?? ""
        let total = 2 + 64
        let visible = before.filter { $0.hasPrefix("ffn") || $0.hasPrefix("shared") }.count
        #expect(moreLine.hasPrefix("… \(total - visible) more"), "\(moreLine)")
        #expect(controller.handle(.pageDown) == .redraw)
        let after = inspector()
        #expect(after.contains { $0.hasPrefix("… 5 above, \(total - visible - 5) more") }, "\(after)")
        #expect(!after.contains { $0.hasPrefix("shared0") })
        for _ in 0..<40 { _ = controller.handle(.pageDown) }
        let end = inspector()
        #expect(end.contains { $0.hasPrefix("… \(total - visible) above") && !$0.contains("more") }, "\(end)")
        _ = controller.handle(.pageUp)
        #expect(inspector().contains { $0.contains(" more") })
    }

    @Test("exports carry the shared experts and the family's weight rule")
    func exportCarriesSharedAndRule() throws {
        let state = Self.fineGrainedState(tokens: 3)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(state.session())) as? [String: Any]
        let model = json?["model"] as? [String: Any]
        let rule = model?["weightRule"] as? [String: Any]
        #expect(rule?["sharedExperts"] as? Int == 2 && rule?["topK"] as? Int == 8 && (rule?["gate"] as? [String: Any])?["renormalise"] as? Bool == false)
        #expect(rule?["denseLayers"] as? [Int] == [0] && rule?["sharedExpertWeight"] as? String == "sigmoid gate")
        #expect(model?["family"] as? String == "qwen2_moe")
        let layers = ((json?["tokens"] as? [[String: Any]])?.first?["layers"] as? [[String: Any]]) ?? []
        #expect(layers.count == 4)
        #expect((layers[1]["shared"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } == ["shared0", "shared1"])
        #expect((layers[0]["shared"] as? [[String: Any]])?.first?["kind"] as? String == "shared0")
        #expect(state.config.weightRule.summary == "top-8 of 64: softmax, top-k, not renormalised; shared ×2 always on (sigmoid gate); dense layers 0")
    }

    @Test("moe-tiny: no Z/C/K columns or legend, no residual or zero-kind toggles, nothing drawn past a pane")
    func moeTinyScreens() throws {
        let (_, state, controller) = try Self.moeTinySession()
        for (width, height) in Self.sizes {
            let grid = Screen.render(state, width: width, height: height, glyphs: .unicode)
            let layout = ScreenLayout(width: width, height: height, config: state.config)
            let text = Self.routingText(grid, layout)
            #expect(Self.overruns(state, width: width, height: height).isEmpty, "\(Self.overruns(state, width: width, height: height))")
            for absent in ["Z zero", "C copy", "K constant", "zero on", "resid", "F2 ", "F3 ", "F4 ", "F5 ", "Resid", "p no-res", "slot shares", "FFN    Z", "    K  "] {
                #expect(!text.contains(absent), "\(width)×\(height): \(absent)\n\(text)")
            }
            #expect(grid.text(row: layout.map.y).contains("(F digit)"))
            // Cells list the two chosen FFN experts by digit: no zero-computation glyph, no shared mark.
            for row in Self.rows(grid, layout.map).dropFirst().filter({ $0.hasPrefix("L") }) {
                #expect(!row.dropFirst(2).contains { "ZCKS…".contains($0) }, "\(row)")
            }
            #expect(Self.rows(grid, layout.inspector).last?.hasPrefix("weights: top-2 of 8: softmax, top-k, renormalised") == true)
            #expect(grid.text(row: layout.keyBarRow).hasPrefix("F1 Help  F10 Quit  F6 k−"), "\(grid.text(row: layout.keyBarRow))")
            #expect(grid.text(row: layout.statusRow).hasPrefix("k=2  greedy"), "\(grid.text(row: layout.statusRow))")
        }
        // The keys of what the model lacks explain themselves and change nothing.
        _ = controller.handle(.function(5))
        #expect(state.status?.text == "this model has no gating residual" && state.status?.isError == true)
        _ = controller.handle(.function(2))
        #expect(state.status?.text == "this model has no zero-computation experts")
    }

    @Test("cells: a list up to 3 glyphs, else the ellipsis; a summary when k > 3 or ids pass z")
    func mapCells() {
        var config = RandomCheckpoint.tinyConfig(.moepp)
        let kinds = (0..<config.numExperts).map { config.kind(ofExpert: $0) }
        func layer(_ indices: [Int], weights: [Float]) -> LayerRouting {
            LayerRouting(layer: 0, routerLogits: [0], residualLogits: [0], probabilities: [1], chosen: zip(indices, weights).map { ChosenExpert(index: $0, kind: kinds[$0], weight: $1) },
                         probabilitiesWithoutResidual: [1], chosenWithoutResidual: indices,
                         ffnExpertsComputed: zip(indices, weights).filter { kinds[$0.0].isFFN && $0.1 != 0 }.count)
        }
        func text(_ cell: MapCell) -> String { cell.pieces.map(\.text).joined() }
        let zero = config.zeroExpertIndex!
        #expect(text(MapCell(layer([1, zero], weights: [1, 0]), config: config, width: 3, ellipsis: "…")) == "1Z")
        // Top-4 at run time on a top-2 model: two glyphs and the mark.
        #expect(text(MapCell(layer([1, 2, 3, zero], weights: [0.4, 0.3, 0.3, 0]), config: config, width: 3, ellipsis: "…")) == "12…")
        config.topK = 6
        #expect(text(MapCell(layer([1, 2, 3, zero, zero - 1, 0], weights: [0.2, 0.2, 0.2, 0, 0.2, 0.2]), config: config, width: 3, ellipsis: "…")) == "4Z")
        var wide = RandomCheckpoint.tinyConfig(.olmoe, ffnExperts: 40)
        wide.topK = 2
        let routing = LayerRouting(layer: 0, routerLogits: [0], residualLogits: [0], probabilities: [1],
                                   chosen: [ChosenExpert(index: 39, kind: .ffn(39), weight: 0.6), ChosenExpert(index: 3, kind: .ffn(3), weight: 0.4)],
                                   probabilitiesWithoutResidual: [1], chosenWithoutResidual: [39, 3], ffnExpertsComputed: 2)
        #expect(text(MapCell(routing, config: wide, width: 3, ellipsis: "…")) == "2")
        #expect(ExpertGlyph.glyph(.ffn(39)) == "39" && ExpertGlyph.glyph(.ffn(35)) == "z")
        #expect(MapCell.fit([.init(text: "12", style: Style()), .init(text: "Z", style: Style()), .init(text: "S", style: Style())], width: 3, ellipsis: "…").map(\.text) == ["12", "…"])
    }

    @Test("a cut is marked: text that does not fit ends in the ellipsis, trailing spaces do not count")
    func cutsAreMarked() {
        var grid = CellGrid(width: 12, height: 3)
        #expect(grid.put("everything", row: 0, column: 0, limit: 5) == 5)
        #expect(grid.text(row: 0).hasPrefix("ever… "))
        grid.put("ok   ", row: 1, column: 0, limit: 3)
        #expect(grid.text(row: 1).hasPrefix("ok "))
        grid.put("a漢字", row: 2, column: 0, limit: 4)
        #expect(grid.text(row: 2).hasPrefix("a漢…"), "\(grid.text(row: 2))")
    }
}
