import Foundation
import Testing
@testable import MoEKit

/// Qwen2-MoE, Qwen3-MoE and Granite-MoE against fixtures made by transformers 4.57.1 itself
/// (Fixtures/make_hf_family_fixtures.py): logits, greedy decoding through the KV cache, and the
/// router's choice on every token and layer.
@Suite("Families: Qwen2-MoE, Qwen3-MoE, Granite-MoE against Hugging Face transformers")
struct FamilyTests {
    static let fixtures = ["hf-qwen2-moe", "hf-qwen3-moe", "hf-granitemoe"]
    /// Logits, greedy decoding and layout also hold the MLA families (LatentAttentionFamilyTests
    /// checks their gates, whose reference order is not a ranking).
    static let withLatentAttention = fixtures + LatentAttentionFamilyTests.fixtures

    struct Expected: Decodable {
        let tokens: [Int]
        let logits: [[Float]]
        let generated: [Int]
        /// Per position of tokens + generated, per layer: top-k expert ids, nil for a dense layer.
        let routes: [[[Int]?]]
    }

    static func load(_ name: String) throws -> (Transformer, Expected) {
        let directory = TestSupport.fixture(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/expected.json")))
        return (try Transformer(directory: directory), expected)
    }

    static func argmax(_ row: ArraySlice<Float>) -> Int {
        var best = row.startIndex
        for i in row.indices where row[i] > row[best] { best = i }   // first maximum, as torch.argmax
        return best - row.startIndex
    }

    @Test("logits match transformers to 1e-4 relative at every prompt position", arguments: withLatentAttention)
    func logits(name: String) throws {
        let (model, expected) = try Self.load(name)
        let output = try model.forward(expected.tokens, cache: model.makeCache(), allLogits: true)
        let vocabulary = model.config.vocabSize
        #expect(expected.logits.count == expected.tokens.count)
        for (t, row) in expected.logits.enumerated() {
            let ours = Array(output.logits[t * vocabulary..<(t + 1) * vocabulary])
            #expect(TestSupport.close(ours, row, relative: 1e-4), "\(name) position \(t): max diff \(TestSupport.maxAbsoluteDifference(ours, row))")
        }
    }

    @Test("32 greedy tokens through the KV cache equal transformers' generate(do_sample=False)", arguments: withLatentAttention)
    func greedy(name: String) throws {
        let (model, expected) = try Self.load(name)
        let cache = model.makeCache()
        var logits = try model.forward(expected.tokens, cache: cache).logits
        var generated: [Int] = []
        while generated.count < expected.generated.count {
            let next = Self.argmax(logits[...])
            generated.append(next)
            logits = try model.forward([next], cache: cache).logits
        }
        #expect(expected.generated.count == 32)
        #expect(generated == expected.generated, "\(name)")
    }

    @Test("router choices equal the reference's on every token and layer; dense layers have no router", arguments: fixtures)
    func routerChoices(name: String) throws {
        let (model, expected) = try Self.load(name)
        let sequence = expected.tokens + expected.generated
        let output = try model.forward(sequence, cache: model.makeCache())
        #expect(expected.routes.count == sequence.count)
        var mismatches: [String] = []
        for (t, layers) in expected.routes.enumerated() {
            #expect(output.routing[t].count == model.config.numLayers, "one record per layer, dense ones included")
            for (l, reference) in layers.enumerated() {
                let record = output.routing[t][l]
                if let reference {
                    if record.chosen.map(\.index) != reference { mismatches.append("t\(t) L\(l): \(record.chosen.map(\.index)) vs \(reference)") }
                } else {
                    #expect(!record.hasRouter && record.chosen.isEmpty && record.probabilities.isEmpty, "\(name) L\(l) is dense")
                    #expect(record.shared.map(\.kind) == [.shared(0)] && record.shared[0].weight == 1)
                }
            }
        }
        #expect(mismatches.isEmpty, "\(name): \(mismatches.prefix(5))")
    }

    @Test("the fixtures exercise GQA, tied embeddings, dense layers, shared experts, biases, per-head q/k norm and the multipliers")
    func coverage() throws {
        let qwen2 = try Self.load("hf-qwen2-moe").0.config
        #expect(qwen2.family == .qwen2MoE && qwen2.numKeyValueHeads < qwen2.numHeads && qwen2.tieWordEmbeddings)
        #expect(qwen2.denseLayers == [1] && qwen2.denseIntermediateSize == 48 && qwen2.intermediateSize == 16)
        #expect(qwen2.sharedExperts == 1 && qwen2.sharedIntermediateSize == 40 && qwen2.sharedExpertGate)
        #expect(qwen2.attentionBias && !qwen2.normalizeTopK)
        let qwen3 = try Self.load("hf-qwen3-moe").0.config
        #expect(qwen3.family == .qwen3MoE && qwen3.numKeyValueHeads < qwen3.numHeads && !qwen3.tieWordEmbeddings)
        #expect(qwen3.queryKeyNorm && qwen3.queryKeyNormPerHead && qwen3.headDim == 16 && qwen3.queryDim != qwen3.hiddenSize)
        #expect(qwen3.denseLayers == [0] && qwen3.sharedExperts == 0 && qwen3.normalizeTopK && !qwen3.attentionBias)
        let granite = try Self.load("hf-granitemoe").0.config
        #expect(granite.family == .graniteMoE && granite.numKeyValueHeads == 1 && granite.tieWordEmbeddings)
        #expect(granite.embeddingMultiplier == 0.4 && granite.residualMultiplier == 0.9 && granite.attentionScale == 0.0625 && granite.logitsScaling == 8)
    }

    @Test("the layout (moepp inspect, parameter counts) lists exactly the tensors transformers saved", arguments: withLatentAttention)
    func layoutMatchesCheckpoint(name: String) throws {
        let (model, _) = try Self.load(name)
        let layout = Dictionary(uniqueKeysWithValues: CheckpointLayout(config: model.config).entries.map { ($0.name, $0.shape) })
        let saved = Dictionary(uniqueKeysWithValues: model.weights.names.map { ($0, model.weights.view($0)?.shape ?? []) })
        #expect(layout == saved, "\(name): missing \(saved.keys.filter { layout[$0] == nil }.sorted()), extra \(layout.keys.filter { saved[$0] == nil }.sorted())")
    }

    @Test("a shared expert is always on: recorded on every token of a MoE layer with its sigmoid gate as weight")
    func sharedExpertRecords() throws {
        let (model, expected) = try Self.load("hf-qwen2-moe")
        let output = try model.forward(expected.tokens, cache: model.makeCache())
        for token in output.routing {
            for l in [0, 2] {
                let shared = token[l].shared
                #expect(shared.count == 1 && shared[0].kind == .shared(0) && shared[0].weight > 0 && shared[0].weight < 1)
                #expect(token[l].chosen.allSatisfy { $0.kind.isFFN } && token[l].ffnExpertsComputed == 3)
            }
        }
    }

    @Test("Granite's experts are row views of the fused 3-D tensors, not copies")
    func graniteViews() throws {
        let (model, _) = try Self.load("hf-granitemoe")
        let input = try #require(model.weights.view("model.layers.1.block_sparse_moe.input_linear.weight"))
        let output = try #require(model.weights.view("model.layers.1.block_sparse_moe.output_linear.weight"))
        let experts = try #require(model.blocks[1].moe).ffnExperts
        let (inner, d) = (model.config.intermediateSize, model.config.hiddenSize)
        for (e, expert) in experts.enumerated() {
            #expect(expert.gate.base == input.base + e * 2 * inner * expert.gate.rowBytes)
            #expect(expert.up.base == expert.gate.base + inner * expert.gate.rowBytes)
            #expect(expert.down.base == output.base + e * d * expert.down.rowBytes)
        }
    }

    @Test("a model with a dense first layer runs under an expert cache with prefetching, bit-identical to the mapping")
    func denseLayerWithExpertCache() throws {
        let directory = TestSupport.fixture("hf-qwen3-moe")
        let (reference, expected) = try Self.load("hf-qwen3-moe")
        let tokens = expected.tokens + expected.generated
        let mapped = try reference.forward(tokens, cache: reference.makeCache(), allLogits: true).logits
        let model = try Transformer(directory: directory)
        try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(4), policy: .lru, prefetch: true)
        let cache = model.makeCache()
        var logits: [Float] = []
        for token in tokens { logits += try model.forward([token], cache: cache).logits }
        #expect(TestSupport.close(logits, mapped, relative: 1e-5))
    }

    @Test("routing exports keep shared experts and dense layers; exports without them still read")
    func exportRoundTrip() throws {
        let (model, expected) = try Self.load("hf-qwen2-moe")
        let layers = try model.forward(Array(expected.tokens.prefix(2)), cache: model.makeCache()).routing[1]
        let data = try JSONEncoder().encode(layers)
        let decoded = try JSONDecoder().decode([LayerRouting].self, from: data)
        #expect(decoded.map(\.shared) == layers.map(\.shared))
        #expect(decoded.map(\.hasRouter) == [true, false, true])
        var plain = try #require(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        plain[0].removeValue(forKey: "shared")
        let old = try JSONDecoder().decode([LayerRouting].self, from: JSONSerialization.data(withJSONObject: plain))
        #expect(old[0].shared.isEmpty && old[0].chosen.map(\.index) == layers[0].chosen.map(\.index))
        #expect(ExpertKind("shared3") == .shared(3) && ExpertKind.shared(3).description == "shared3")
    }
}
