import Foundation
import Testing
@testable import MoEKit
@testable import MoETUI

/// A model whose layers are not all routed (Qwen2-MoE: layer 1 dense, layers 0 and 2 MoE + a gated
/// shared expert): the views must draw every layer without assuming a router.
@Suite("Views over a model with a dense layer and a shared expert")
struct DenseLayerViewTests {
    static func state() throws -> PlaygroundState {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MoEKitTests/Fixtures/hf-qwen2-moe").path
        let model = try Transformer(directory: directory)
        let tokens = [3, 17, 42, 5, 9, 60, 1, 33]
        let output = try model.forward(tokens, cache: model.makeCache())
        let state = PlaygroundState(config: model.config, modelName: "qwen2-moe", settings: GenerationSettings())
        for (t, layers) in output.routing.enumerated() {
            state.append(TokenRouting(position: t, tokenId: tokens[t], text: "t\(t)", phase: "prompt", layers: layers))
        }
        return state
    }

    @Test("map, inspector and statistics draw dense and shared layers at 100×30 and 140×45")
    func rendersDenseAndShared() throws {
        let state = try Self.state()
        for (width, height) in [(100, 30), (140, 45)] {
            for layer in 0..<3 {
                state.selectedLayer = layer
                let text = Screen.render(state, width: width, height: height, glyphs: .unicode).text
                #expect(text.contains("Routing map") && text.contains("Inspector"))
                if layer == 1 { #expect(text.contains("dense layer, no router"), "\(width)×\(height)") }
                else { #expect(text.split(separator: "\n").contains { $0.contains("shared0 S always on") }, "\(width)×\(height) layer \(layer)") }
            }
        }
        let layers = state.sessionStatistics.ffnComputed
        // The legend names only what this model can show: no zero-computation glyphs, an S; top-3
        // plus a shared expert is more than a 3-cell list, so cells count the FFN experts run.
        let title = Screen.render(state, width: 140, height: 45, glyphs: .unicode).text(row: 0)
        #expect(title.contains("N FFN experts run · S always on") && !title.contains("Z zero") && !title.contains("K constant"), "\(title)")
        #expect(layers[1] == 0 && layers[0] > 0, "a dense layer runs no routed expert")
    }
}
