import Foundation
import Testing
@testable import MoEKit

@Suite("Whole-model forward: references, KV cache, routing records")
struct ModelTests {
    struct Expected: Decodable {
        let tokens: [Int]
        let logits: [[Float]]
    }

    @Test("logits match Hugging Face transformers to 1e-4 relative", arguments: ["hf-mixtral", "hf-olmoe"])
    func matchesHuggingFace(name: String) throws {
        let directory = TestSupport.fixture(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/expected.json")))
        let model = try Transformer(directory: directory)
        let output = try model.forward(expected.tokens, cache: model.makeCache(), allLogits: true)
        let vocabulary = model.config.vocabSize
        for (t, row) in expected.logits.enumerated() {
            let ours = Array(output.logits[t * vocabulary..<(t + 1) * vocabulary])
            #expect(TestSupport.close(ours, row, relative: 1e-4), "\(name) position \(t): max diff \(TestSupport.maxAbsoluteDifference(ours, row))")
        }
    }

    @Test("incremental decoding with the KV cache equals a full recompute",
          arguments: [(ModelFamily.moepp, WeightFormat.f32), (.moepp, .bf16), (.mixtral, .f16), (.olmoe, .f32)])
    func incrementalEqualsFull(family: ModelFamily, dtype: WeightFormat) throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(family, seed: 3, dtype: dtype))
        let tokens = [12, 200, 45, 3, 99, 150, 7, 7, 260, 31, 18]
        let full = try model.forward(tokens, cache: model.makeCache(), allLogits: true)
        let cache = model.makeCache()
        let vocabulary = model.config.vocabSize
        _ = try model.forward(Array(tokens[0..<4]), cache: cache)
        for t in 4..<tokens.count {
            let step = try model.forward([tokens[t]], cache: cache)
            let reference = Array(full.logits[t * vocabulary..<(t + 1) * vocabulary])
            #expect(TestSupport.close(step.logits, reference, relative: 1e-4), "\(family) \(dtype) position \(t)")
            #expect(step.routing[0].map { $0.chosen.map(\.index) } == full.routing[t].map { $0.chosen.map(\.index) })
        }
        #expect(cache.length == tokens.count)
    }

    @Test("routing records are consistent: probabilities sum to 1, weights renormalised, residual = routerLogits + G·previous")
    func routingRecords() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 8)
        let model = try Transformer(directory: directory)
        let output = try model.forward(Array(0..<40).map { ($0 * 37) % 270 }, cache: model.makeCache())
        let config = model.config
        let gateMap = try model.weights.matrix("model.layers.1.mlp.moe.gate.gate_map.weight", rows: 8, cols: 8)
        var kinds = Set<String>()
        for token in output.routing {
            #expect(token.count == config.numLayers)
            for layer in token {
                #expect(abs(layer.probabilities.reduce(0, +) - 1) < 1e-4)
                #expect(layer.chosen.count == 2)
                let sum = layer.chosen.map(\.weight).reduce(0, +)
                #expect(abs(sum - 1) < 1e-5 || sum == 0)
                #expect(layer.ffnExpertsComputed == layer.chosen.filter { $0.kind.isFFN && $0.weight > 0 }.count)
                for choice in layer.chosen where choice.kind == .zero { #expect(choice.weight == 0) }
                kinds.formUnion(layer.chosen.map { $0.kind.category.shareName })
            }
            let previous = token[0].residualLogits
            let carried = NaiveKernels.matvec(gateMap, previous)
            #expect(TestSupport.close(token[1].residualLogits, zip(token[1].routerLogits, carried).map(+), relative: 1e-5))
            #expect(token[0].residualLogits == token[0].routerLogits, "no residual into the first layer")
        }
        #expect(kinds.isSuperset(of: ["ffn", "zero", "copy", "const"]), "a random router exercises every kind: \(kinds)")
    }

    @Test("gating residual off: the gate sees only the layer's own logits")
    func residualOff() throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(.moepp, seed: 8))
        let output = try model.forward([5, 6, 7], cache: model.makeCache(), controls: RoutingControls(gatingResidual: false))
        for layer in output.routing.flatMap({ $0 }) {
            #expect(layer.residualLogits == layer.routerLogits)
            #expect(!layer.residualChangedChoice)
        }
    }

    @Test("masking an expert kind in the model never selects it", arguments: ["zero", "copy", "const"])
    func maskedKindInModel(kind: String) throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(.moepp, seed: 8))
        var controls = RoutingControls()
        controls.mask.zeroEnabled = kind != "zero"
        controls.mask.copyEnabled = kind != "copy"
        controls.mask.constantEnabled = kind != "const"
        let output = try model.forward(Array(0..<60).map { ($0 * 53) % 270 }, cache: model.makeCache(), controls: controls)
        let chosen = output.routing.flatMap { $0.flatMap { $0.chosen.map(\.kind) } }
        #expect(!chosen.contains { $0.category.shareName == kind })
        #expect(chosen.count == 60 * 2 * 2)
    }

    @Test("token ids outside the vocabulary are refused, not read out of bounds")
    func tokenOutOfRange() throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(.mixtral))
        #expect(throws: Transformer.ForwardError.self) { try model.forward([1, 100_000], cache: model.makeCache()) }
        #expect(throws: Transformer.ForwardError.self) { try model.forward([-1], cache: model.makeCache()) }
    }
}
