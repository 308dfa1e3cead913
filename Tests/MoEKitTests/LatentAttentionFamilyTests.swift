import Foundation
import Testing
@testable import MoEKit

/// DeepSeek-V2, DeepSeek-V3 and LongCat-Flash against fixtures made by transformers 4.57.1 itself
/// (Fixtures/make_hf_deepseek_fixtures.py; FamilyTests holds their logits at every prompt
/// position, 32 greedy tokens and layouts to the same fixtures): MLA over a latent KV cache, YaRN, dense first layers,
/// shared experts, group-limited greedy and sigmoid + bias (noaux_tc) routing with routed scaling,
/// LongCat's identity experts and shortcut MoE.
@Suite("Families: DeepSeek-V2, DeepSeek-V3, LongCat-Flash against Hugging Face transformers")
struct LatentAttentionFamilyTests {
    static let fixtures = ["hf-deepseek-v2", "hf-deepseek-v2-greedy", "hf-deepseek-v3", "hf-longcat-flash"]

    struct Expected: Decodable {
        let tokens: [Int]
        let logits: [[Float]]
        let generated: [Int]
        /// Per position of tokens + generated, per layer: the gate's expert ids ascending, nil for a dense layer.
        let routes: [[[Int]?]]
        /// The gate's weights for those ids.
        let weights: [[[Float]?]]
    }

    static func load(_ name: String) throws -> (Transformer, Expected) {
        let directory = TestSupport.fixture(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/expected.json")))
        return (try Transformer(directory: directory), expected)
    }

    @Test("the gate's experts and weights equal the reference's on every token and layer", arguments: fixtures)
    func routerChoices(name: String) throws {
        let (model, expected) = try Self.load(name)
        let routing = try model.forward(expected.tokens + expected.generated, cache: model.makeCache()).routing
        #expect(routing.count == expected.routes.count)
        let mismatches = zip(routing, zip(expected.routes, expected.weights)).enumerated().flatMap { t, item in
            zip(item.0, zip(item.1.0, item.1.1)).compactMap { record, reference -> String? in
                guard let ids = reference.0, let weights = reference.1 else {
                    return record.hasRouter || !record.chosen.isEmpty ? "t\(t) L\(record.layer) should be dense" : nil
                }
                let ours = record.chosen.sorted { $0.index < $1.index }
                if ours.map(\.index) != ids { return "t\(t) L\(record.layer): \(ours.map(\.index)) vs \(ids)" }
                return TestSupport.close(ours.map(\.weight), weights, relative: 1e-4) ? nil : "t\(t) L\(record.layer) weights: \(ours.map(\.weight)) vs \(weights)"
            }
        }
        #expect(mismatches.isEmpty, "\(name): \(mismatches.prefix(5))")
    }

    @Test("decoding token by token through the latent cache equals a full recompute at every position", arguments: fixtures)
    func incrementalEqualsFull(name: String) throws {
        let (model, expected) = try Self.load(name)
        let sequence = expected.tokens + expected.generated.prefix(8)
        let full = try model.forward(sequence, cache: model.makeCache(), allLogits: true).logits
        let cache = model.makeCache()
        var stepped = try model.forward(Array(sequence.prefix(5)), cache: cache, allLogits: true).logits
        for token in sequence.dropFirst(5) { stepped += try model.forward([token], cache: cache).logits }
        #expect(TestSupport.close(stepped, full, relative: 1e-5), "\(name): max diff \(TestSupport.maxAbsoluteDifference(stepped, full))")
    }

    @Test("the KV cache holds the latent (kv_lora_rank + qk_rope_head_dim floats per token and layer), no values")
    func latentCache() throws {
        let (model, _) = try Self.load("hf-deepseek-v3")
        let shape = try #require(model.config.latentAttention)
        let cache = model.makeCache()
        #expect(cache.width == shape.kvRank + shape.ropeDim && cache.width == 24 && cache.valueWidth == 0)
        let expandedWidth = 2 * model.config.numHeads * shape.queryKeyDim
        #expect(cache.width < expandedWidth, "latent \(cache.width) floats vs \(expandedWidth) expanded")
    }

    @Test("the fixtures exercise q_lora_rank null and set, YaRN, dense first layers, shared experts, both routings and tied embeddings")
    func coverage() throws {
        let v2 = try Self.load("hf-deepseek-v2").0.config
        #expect(v2.family == .deepseekV2 && v2.latentAttention?.queryRank == nil && v2.tieWordEmbeddings)
        #expect(v2.yarn?.factor == 4 && v2.yarn?.mscaleAllDim == 0.707 && v2.yarn?.originalContext == 16)
        #expect(v2.denseLayers == [0] && v2.sharedExperts == 2 && v2.routedScalingFactor == 1.5 && !v2.normalizeTopK)
        #expect(v2.gatingRule == GatingRule(scores: .softmax, choiceBias: false, groups: .init(count: 4, chosen: 2, score: .max),
                                            zeroWeightRule: false, renormalise: false, scaling: 1.5))
        let greedy = try Self.load("hf-deepseek-v2-greedy").0.config
        #expect(greedy.latentAttention?.queryRank == 24 && greedy.yarn == nil && greedy.expertGroups == nil && !greedy.tieWordEmbeddings)
        let v3 = try Self.load("hf-deepseek-v3").0.config
        #expect(v3.family == .deepseekV3 && v3.latentAttention?.queryRank == 24 && v3.yarn?.mscaleAllDim == 1)
        #expect(v3.gatingRule == GatingRule(scores: .sigmoid, choiceBias: true, groups: .init(count: 4, chosen: 2, score: .sumOfTopTwo),
                                            zeroWeightRule: false, renormalise: true, scaling: 2.5))
        #expect(v3.gatingRule.description == "sigmoid, top-k on score + bias within the best 2 of 4 groups (sum of group top-2), renormalised, × 2.5")
    }

    @Test("records list every shared expert as always on and carry the gating rule; exports keep both")
    func sharedExpertsAndRuleInRecords() throws {
        let (model, expected) = try Self.load("hf-deepseek-v2")
        let layers = try model.forward(Array(expected.tokens.prefix(3)), cache: model.makeCache()).routing[2]
        #expect(layers[0].shared.map(\.kind) == [.shared(0)] && layers[0].rule == nil, "layer 0 is dense")
        for record in layers.dropFirst() {
            #expect(record.shared.map(\.kind) == [.shared(0), .shared(1)] && record.shared.allSatisfy { $0.weight == 1 })
            #expect(record.rule == model.config.gatingRule && record.chosen.count == 3)
        }
        let decoded = try JSONDecoder().decode([LayerRouting].self, from: JSONEncoder().encode(layers))
        #expect(decoded.map(\.rule) == layers.map(\.rule) && decoded.map(\.shared) == layers.map(\.shared))
    }

    @Test("config.json written by moepp reads back to the same MLA, YaRN and routing", arguments: fixtures)
    func configRoundTrip(name: String) throws {
        let config = try Self.load(name).0.config
        let path = TestSupport.temporaryDirectory("\(name)-config") + "/config.json"
        try config.write(to: path)
        let again = try ModelConfig.load(path: path)
        #expect(again.latentAttention == config.latentAttention && again.yarn == config.yarn && again.gatingRule == config.gatingRule)
        #expect(again.denseLayers == config.denseLayers && again.sharedExperts == config.sharedExperts && again.rotaryPairing == config.rotaryPairing)
    }

    @Test("YaRN's frequencies and factors follow transformers' formula")
    func yarnFormula() {
        let yarn = YaRN(factor: 40, originalContext: 4096, betaFast: 32, betaSlow: 1, mscale: 0.707, mscaleAllDim: 0.707,
                        attentionFactorOverride: nil, truncate: true)
        // DeepSeek-V2-Lite: mscale = mscale_all_dim, so cos/sin are unscaled and the softmax scale takes m².
        #expect(yarn.attentionFactor == 1)
        let m = 0.1 * 0.707 * log(40.0) + 1
        #expect(abs(yarn.softmaxScaleFactor - m * m) < 1e-12)
        let frequencies = yarn.inverseFrequencies(dimension: 64, theta: 10_000)
        #expect(frequencies.count == 32 && frequencies[0] == 1, "the fastest band is extrapolated unchanged")
        let plain = 1 / powf(10_000, 62 / 64)
        #expect(abs(frequencies[31] - plain / 40) < 1e-12, "the slowest band is interpolated by the factor")
    }

    @Test("bad DeepSeek and LongCat configs fail in one line naming the key", arguments: [
        ("hf-deepseek-v2", "rope_scaling", #"{"type": "longrope", "factor": 2.0}"#, "RoPE type \"longrope\""),
        ("hf-deepseek-v2", "norm_topk_prob", "true", "norm_topk_prob"),
        ("hf-deepseek-v2", "topk_method", #""noaux_tc""#, "topk_method"),
        ("hf-deepseek-v2", "n_group", "3", "n_group"),
        ("hf-deepseek-v2", "num_key_value_heads", "2", "num_key_value_heads"),
        ("hf-deepseek-v3", "topk_group", "5", "topk_group"),
        ("hf-deepseek-v3", "scoring_func", #""softmax""#, "scoring_func"),
        ("hf-longcat-flash", "num_hidden_layers", "3", "num_hidden_layers"),
        ("hf-longcat-flash", "router_bias", "true", "router_bias"),
        ("hf-longcat-flash", "q_lora_rank", "null", "q_lora_rank"),
        ("hf-longcat-flash", "zero_expert_num", "-1", "zero_expert_num"),
    ])
    func badConfigs(fixture: String, key: String, value: String, mention: String) throws {
        let directory = TestSupport.temporaryDirectory("bad-\(fixture)-\(key)")
        var text = try String(contentsOfFile: TestSupport.fixture(fixture) + "/config.json", encoding: .utf8)
        if !text.contains("\"\(key)\"") { text = text.replacingOccurrences(of: "{\n", with: "{\n  \"\(key)\": 0,\n") }
        let pattern = try NSRegularExpression(pattern: "\"\(key)\": (\\{[^}]*\\}|[^,\\n]*)")
        text = pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "\"\(key)\": \(value)")
        try text.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        do {
            _ = try ModelConfig.load(path: directory + "/config.json")
            Issue.record("\(key) = \(value) was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.contains(mention) && message.contains("config.json") && !message.contains("\n"), "\(message)")
        }
    }

    @Test("LongCat: identity experts add w·x, are recorded as copy experts and run no FFN; each layer is a routing block then a dense one")
    func longCatIdentityExperts() throws {
        let (model, expected) = try Self.load("hf-longcat-flash")
        let config = model.config
        #expect(config.family == .longcatFlash && config.numLayers == 4 && config.numFFNExperts == 6 && config.numExperts == 10)
        #expect(config.expertCategories == [.ffn, .copy] && config.denseLayers == [1, 3] && config.zeroExpertIndex == nil)
        #expect(config.gatingRule == GatingRule(scores: .softmax, choiceBias: true, groups: nil, zeroWeightRule: false, renormalise: false, scaling: 2))
        let output = try model.forward(expected.tokens + expected.generated, cache: model.makeCache())
        var identityChoices = 0
        for token in output.routing {
            #expect(token.count == 4 && !token[1].hasRouter && !token[3].hasRouter)
            for record in [token[0], token[2]] {
                #expect(record.shared.map(\.kind) == [.shared(0)], "the dense FFN beside the shortcut MoE is always on")
                let identities = record.chosen.filter { $0.kind == .copy }
                #expect(identities.allSatisfy { $0.index >= 6 } && record.ffnExpertsComputed == record.chosen.count - identities.count)
                identityChoices += identities.count
            }
        }
        #expect(identityChoices > 0, "the fixture chooses identity experts")
        let layout = CheckpointLayout(config: config)
        #expect(layout.entries.contains { $0.name == "model.layers.1.self_attn.1.kv_b_proj.weight" })
        #expect(layout.entries.contains { $0.name == "model.layers.0.mlp.router.e_score_correction_bias" && $0.shape == [10] })
    }

    @Test("under an expert cache with prefetching, outputs are bit-identical to the mapping (shared experts, identity experts, sublayers)",
          arguments: ["hf-deepseek-v2", "hf-longcat-flash"])
    func expertCache(name: String) throws {
        let (reference, expected) = try Self.load(name)
        let tokens = expected.tokens + expected.generated
        let mapped = try reference.forward(tokens, cache: reference.makeCache(), allLogits: true).logits
        let directory = TestSupport.fixture(name)
        let model = try Transformer(directory: directory)
        try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(3), policy: .lru, prefetch: true)
        let cache = model.makeCache()
        var logits: [Float] = []
        for token in tokens { logits += try model.forward([token], cache: cache).logits }
        #expect(TestSupport.close(logits, mapped, relative: 1e-5), "\(name): max diff \(TestSupport.maxAbsoluteDifference(logits, mapped))")
    }

    @Test("families without YaRN still refuse it")
    func yarnRefusedElsewhere() throws {
        let directory = TestSupport.temporaryDirectory("qwen3-yarn")
        var text = try String(contentsOfFile: TestSupport.fixture("hf-qwen3-moe") + "/config.json", encoding: .utf8)
        text = text.replacingOccurrences(of: "\"rope_scaling\": null", with: #""rope_scaling": {"rope_type": "yarn", "factor": 4.0}"#)
        try text.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        #expect(throws: CheckpointError.self) { _ = try ModelConfig.load(path: directory + "/config.json") }
    }
}
