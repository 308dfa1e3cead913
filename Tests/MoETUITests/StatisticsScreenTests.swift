import Foundation
import Testing
import TestHelpers
@testable import MoEKit
@testable import MoETUI

@Suite("Statistics screen and trace viewer")
struct StatisticsScreenTests {
    static func emptyStatsDirectory() -> String { ScratchSpace.directory + "moepp-stats-\(UUID().uuidString.prefix(8))" }

    @Test("F12 opens the statistics screen over a live session; it renders at 100×30 and 140×45", arguments: [(100, 30), (140, 45)])
    func liveSession(width: Int, height: Int) throws {
        let (generator, state, controller) = try makeSession()
        try generate(generator, state, "the cat and the dog", tokens: 16)
        #expect(controller.handle(.function(12)) == .redraw)
        #expect(state.statisticsScreen != nil)
        state.statisticsScreen = RoutingStatisticsScreenState(model: state.modelName, directory: Self.emptyStatsDirectory())
        let grid = Screen.render(state, width: width, height: height, glyphs: .unicode)
        let text = grid.text
        #expect(text.contains("Routing statistics · fixture · this session · \(state.tokens.count) tokens"))
        #expect(text.contains(String(format: "Usage: share of tokens choosing each expert (uniform %.1f%%)", 200.0 / Double(state.config.numExperts))))
        // One heat row per layer with a shade per expert, and the layer's predictability of the next.
        let usage = ExpertUsage(RoutingStatisticsScreenState.trace(state))
        for layer in 0..<state.config.numLayers {
            let row = text.split(separator: "\n").first { $0.hasPrefix("│L\(layer) ") }
            #expect(row != nil, "layer \(layer) row")
            let never = (0..<state.config.numExperts).filter { usage.counts[layer][$0] == 0 }.count
            let cell = max(1, min(3, (width - 2 - RoutingStatisticsScreen.labelWidth - RoutingStatisticsScreen.predictabilityWidth) / state.config.numExperts))
            #expect(row.map { $0.filter { $0 == "·" }.count } == never * max(1, cell - 1), "layer \(layer): '·' marks exactly the experts never chosen")
            if layer + 1 < state.config.numLayers { #expect(row?.contains("→L\(layer + 1)") == true) }
        }
        for line in ["Co-activation at layer 0: tokens choosing both", "layer 0 · ffn0", "chosen by \(usage.counts[0][0]) of \(state.tokens.count) tokens", "fires with:", "top tokens:", "L0 → L1: this layer's top-1 predicts"] {
            #expect(text.contains(line), "\(line) on screen:\n\(text)")
        }
        // The key bar still shows (F12 fits in it from 140 columns; /stats and help say it at any width), and Esc closes the screen.
        if width >= 140 { #expect(grid.text(row: height - 1).contains("F12 Stats")) }
        #expect(controller.handle(.escape) == .redraw && state.statisticsScreen == nil)
    }

    @Test("Tab shows the heat map accumulated on disk; quitting a session adds to it")
    func accumulated() throws {
        let (generator, state, controller) = try makeSession()
        try generate(generator, state, "the cat")
        let directory = Self.emptyStatsDirectory()
        #expect(RoutingStatisticsScreenState.recordSession(state, directory: directory) == nil)
        state.statisticsScreen = RoutingStatisticsScreenState(model: state.modelName, directory: directory)
        _ = controller.handle(.tab)
        let text = Screen.render(state, width: 100, height: 30, glyphs: .unicode).text
        #expect(text.contains("accumulated on disk (1 traces) · \(state.tokens.count) tokens"))
        #expect(text.contains("the heat map on disk keeps counts only"))
    }

    /// A 24-layer, 128-expert, top-8 trace as vLLM would return it.
    static func wideTrace() -> RoutingTrace {
        var random = SystemRandomNumberGenerator()
        let ids = (0..<40).map { _ in (0..<24).map { _ in Array((0..<128).shuffled(using: &random).prefix(8)) } }
        return RoutedExpertIDs(ids: ids, promptTokens: 30).trace(source: .vllm, model: "wide", experts: 128)
    }

    @Test("128 experts stay one column each: the window scrolls to the selected expert", arguments: [(100, 30), (140, 45)])
    func manyExperts(width: Int, height: Int) throws {
        let state = TraceViewer.state(Self.wideTrace(), name: "wide.json")
        let controller = PlaygroundController(state: state, controls: LiveControls(), layout: ScreenLayout(width: width, height: height, config: state.config))
        _ = controller.handle(.function(12))
        state.statisticsScreen?.accumulated = nil
        let columns = width - 2 - RoutingStatisticsScreen.labelWidth - RoutingStatisticsScreen.predictabilityWidth
        var text = Screen.render(state, width: width, height: height, glyphs: .unicode).text
        #expect(text.contains("0…\(columns - 1) of 128"))
        #expect(text.contains("this trace · 40 tokens"))
        _ = controller.handle(.end)
        _ = controller.handle(.down)
        text = Screen.render(state, width: width, height: height, glyphs: .unicode).text
        #expect(text.contains("\(128 - columns)…127 of 128"))
        #expect(text.contains("layer 1 · ffn127"))
        #expect(text.contains("top tokens: this trace has neither token text nor ids"))
    }

    @Test("moepp view: a vLLM trace shows in the map and inspector, and the viewer refuses what needs a model")
    func viewer() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MoEKitTests/Fixtures/traces/vllm-completion.json").path
        let trace = try TraceReader.read(path: sample)
        let state = TraceViewer.state(trace, name: "vllm-completion.json")
        #expect(state.turns.count == 1 && state.turns[0].replyTokens.count == 3 && state.tokens.count == 8)
        state.selectedToken = 5
        state.selectedLayer = 1
        let text = Screen.render(state, width: 140, height: 45, glyphs: .unicode).text
        let chosen = trace.tokens[5].layers[1].chosen.map { "ffn\($0.index)" }.joined(separator: ", ")
        #expect(text.contains("chosen: \(chosen)"), "\(text)")
        #expect(text.contains("vllm trace: chosen expert ids only"))
        #expect(text.contains("Routing map"))
        #expect(TraceViewer.refusal(.function(2), state) == "read-only trace: toggles need a model (moepp chat)")
        state.input.insert("h")
        state.focus = .input
        #expect(TraceViewer.refusal(.enter, state) == "read-only trace: no model to send a prompt to")
        state.input.clear()
        for c in "/stats" { state.input.insert(c) }
        #expect(TraceViewer.refusal(.enter, state) == nil)
    }

    @Test("a session saved, re-loaded with /load and quit again is counted once; continued, only its new tokens are added")
    func reloadedSessionCountedOnce() throws {
        let (generator, state, _) = try makeSession()
        try generate(generator, state, "the cat")
        let directory = Self.emptyStatsDirectory()
        #expect(RoutingStatisticsScreenState.recordSession(state, directory: directory) == nil)
        let first = try ExpertUsageStore.load(model: "fixture", directory: directory)
        #expect(first.traces.count == 1 && first.usage.tokens.allSatisfy { $0 == state.tokens.count })

        // /load in a new playground: the session from its file, then quit.
        let (laterGenerator, later, _) = try makeSession()
        later.restore(try PlaygroundSession.decode(try state.session().encoded(), file: "s.json"))
        #expect(RoutingStatisticsScreenState.recordSession(later, directory: directory) == nil)
        #expect(try ExpertUsageStore.load(model: "fixture", directory: directory) == first, "the same tokens and choices: nothing added")

        // Continued and quit again: the loaded tokens stay counted once, the new ones are added.
        try generate(laterGenerator, later, " and the dog")
        #expect(later.tokens.count > state.tokens.count)
        #expect(RoutingStatisticsScreenState.recordSession(later, directory: directory) == nil)
        let continued = try ExpertUsageStore.load(model: "fixture", directory: directory)
        #expect(continued.traces.count == 2)
        #expect(continued.usage.tokens.allSatisfy { $0 == later.tokens.count })
        #expect(continued.usage.counts == ExpertUsage(RoutingStatisticsScreenState.trace(later)).counts)
        #expect(RoutingStatisticsScreenState.recordSession(later, directory: directory) == nil)
        #expect(try ExpertUsageStore.load(model: "fixture", directory: directory) == continued)
    }
}
