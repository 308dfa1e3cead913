import Foundation
import Testing
@testable import MoEKit

/// GGUF files made by `Fixtures/make_gguf_fixtures.py` (gguf-py's GGUFWriter, named and permuted as
/// llama.cpp's convert_hf_to_gguf.py does) run on their own and equal the safetensors runs.
@Suite("GGUF")
struct GGUFTests {
    static func fixture(_ name: String) -> String { TestSupport.fixture("gguf/" + name) }
    /// The HF fixture directory a GGUF fixture was converted from.
    static func hf(_ family: String) -> String {
        ["qwen2moe": "hf-qwen2-moe", "qwen3moe": "hf-qwen3-moe", "granitemoe": "hf-granitemoe"][family] ?? "hf-\(family)"
    }
    /// DeepSeek-V2 (q_proj, group-limited, YaRN, tied), V2-greedy (q LoRA) and V3, all `deepseek2`.
    static let deepSeeks = ["deepseek-v2", "deepseek-v2-greedy", "deepseek-v3"]
    static let families = ["mixtral", "olmoe", "qwen2moe", "qwen3moe", "granitemoe"] + deepSeeks

    struct Reference: Decodable { let tokens: [Int] }
    struct Case: Decodable { let text: String; let ids: [Int] }

    static func expectedIds() throws -> [String: [Case]] {
        try JSONDecoder().decode([String: [Case]].self, from: Data(contentsOf: URL(fileURLWithPath: fixture("expected.json"))))
    }

    /// The safetensors twin of a GGUF file: the HF checkpoint itself for F32; for F16, the same
    /// checkpoint with exactly the tensors the GGUF stores as F16 rounded to F16 (norms and the
    /// router stay F32, as the converter keeps them), so both runs compute with identical weights.
    static func reference(hf: String, gguf: GGUFFile, config: ModelConfig) throws -> Transformer {
        let directory = TestSupport.fixture(hf)
        let weights = try GGUFModel.weights(gguf, config: config)
        guard weights.names.contains(where: { weights.view($0)!.format == .f16 }) else { return try Transformer(directory: directory) }
        // Granite's input_linear and DeepSeek's kv_b_proj are stored split in GGUF, under names of their own.
        func format(_ name: String) -> WeightFormat? {
            weights.view(name)?.format ?? weights.view(name.replacingOccurrences(of: "input_linear.weight", with: "input_linear.gate.weight"))?.format
                ?? weights.view(name.replacingOccurrences(of: "kv_b_proj.weight", with: DeepSeekV2Architecture.splitKeyUpName))?.format
        }
        let rounded = TestSupport.temporaryDirectory("rounded-\(hf)")
        try FileManager.default.copyItem(atPath: directory + "/config.json", toPath: rounded + "/config.json")
        let original = try CheckpointWeights(directory: directory)
        var writer = SafeTensorsWriter()
        for name in original.names {
            let view = original.view(name)!
            writer.add(name, shape: view.shape, values: view.floats(), dtype: format(name) == .f16 ? .f16 : .f32)
        }
        try writer.write(to: rounded + "/model.safetensors")
        return try Transformer(directory: rounded)
    }

    /// Equal within 1e-4 of each position's largest logit (both runs use the same weight values;
    /// what differs is the order of float sums — q/k coordinates are permuted in the GGUF run).
    @Test("logits of the GGUF run equal the safetensors run at every position", arguments: families, ["f32", "f16"])
    func logitsMatch(family: String, dtype: String) throws {
        let path = Self.fixture("\(family)-\(dtype).gguf")
        let gguf = try GGUFFile(path: path)
        let model = try Transformer(directory: path)
        let reference = try Self.reference(hf: Self.hf(family), gguf: gguf, config: model.config)
        let tokens = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture(Self.hf(family) + "/expected.json")))).tokens
        let ours = try model.forward(tokens, cache: model.makeCache(), allLogits: true)
        let theirs = try reference.forward(tokens, cache: reference.makeCache(), allLogits: true)
        let v = model.config.vocabSize
        for t in tokens.indices {
            let (a, b) = (Array(ours.logits[t * v..<(t + 1) * v]), Array(theirs.logits[t * v..<(t + 1) * v]))
            let scale = b.map(abs).max()!
            #expect(TestSupport.maxAbsoluteDifference(a, b) <= 1e-4 * scale, "\(family) \(dtype) position \(t)")
            for l in 0..<model.config.numLayers {
                #expect(ours.routing[t][l].computedFFNExperts == theirs.routing[t][l].computedFFNExperts)
            }
        }
    }

    /// The trained tiny Mixtral (4 experts) and OLMoE (8 experts) of make_gguf_trained_fixtures.py,
    /// F16 GGUF by the same writer, with transformers' prompt, 32 greedy tokens and logits.
    static let trained = ["mixtral-trained-f16.gguf", "olmoe-trained-f16.gguf"]
    struct Trained: Decodable {
        let prompt: String
        let tokens: [Int]
        let generated: [Int]
        let text: String
        /// At every position of `tokens + generated.dropLast()`, teacher-forced.
        let logits: [[Float]]
        var sequence: [Int] { tokens + generated.dropLast() }
    }

    static func trainedExpected(_ name: String) throws -> Trained {
        let all = try JSONDecoder().decode([String: Trained].self, from: Data(contentsOf: URL(fileURLWithPath: fixture("trained-expected.json"))))
        return try #require(all[name], "\(name) in trained-expected.json")
    }

    /// Transformers ran in f32 on the weights rounded to f16, which are exactly what the F16 file
    /// holds (norms and router F32 with the same values), so only the order of float sums differs.
    @Test("trained F16 files: logits equal transformers' within 1e-4 at every position, and its 32 greedy tokens", arguments: trained)
    func trainedMatchesTransformers(name: String) throws {
        let expected = try Self.trainedExpected(name)
        let path = Self.fixture(name)
        let model = try Transformer(directory: path)
        #expect(try ModelSource(path: path).tokenizer().encode(expected.prompt) == expected.tokens, "the file's own tokenizer")
        let ours = try model.forward(expected.sequence, cache: model.makeCache(), allLogits: true).logits
        let v = model.config.vocabSize
        #expect(ours.count == expected.logits.count * v)
        var worst: Float = 0
        for (t, theirs) in expected.logits.enumerated() {
            let relative = TestSupport.maxAbsoluteDifference(Array(ours[t * v..<(t + 1) * v]), theirs) / theirs.map(abs).max()!
            #expect(relative <= 1e-4, "\(name) position \(t)")
            worst = max(worst, relative)
        }
        print("\(name) F16 vs transformers: largest max |Δlogit| ÷ max |logit| of a position \(worst)")
        #expect(try GGUFQuantizeTests.greedy(path, prompt: expected.tokens, count: expected.generated.count) == expected.generated)
    }

    /// Converters before the MLA split kept kv_b_proj whole (`attn_kv_b`) and stated the real head
    /// sizes as key_length / value_length: read as well, to the same logits as the split file.
    @Test("a deepseek2 file with the whole attn_kv_b runs as the split one and the safetensors run")
    func deepSeekWholeKVB() throws {
        let tokens = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("hf-deepseek-v3/expected.json")))).tokens
        let runs = try ["gguf/deepseek-v3-kvb-f32.gguf", "gguf/deepseek-v3-f32.gguf", "hf-deepseek-v3"].map { path in
            let model = try Transformer(directory: TestSupport.fixture(path))
            return try model.forward(tokens, cache: model.makeCache(), allLogits: true).logits
        }
        let scale = runs[2].map(abs).max()!
        #expect(TestSupport.maxAbsoluteDifference(runs[0], runs[2]) <= 1e-4 * scale)
        #expect(TestSupport.maxAbsoluteDifference(runs[0], runs[1]) <= 1e-4 * scale)
    }

    @Test("llama files need adjacent-pair RoPE: rotate-half on the permuted q/k rows gives other logits")
    func permutationMatters() throws {
        let path = Self.fixture("mixtral-f32.gguf")
        let gguf = try GGUFFile(path: path)
        var config = try GGUFModel.config(gguf)
        #expect(config.rotaryPairing == .adjacent)
        #expect(try GGUFModel.config(GGUFFile(path: Self.fixture("olmoe-f32.gguf"))).rotaryPairing == .halves, "olmoe is not permuted")
        let right = try Transformer(config: config, weights: GGUFModel.weights(gguf, config: config))
        config.rotaryPairing = .halves
        let wrong = try Transformer(config: config, weights: GGUFModel.weights(gguf, config: config))
        let tokens = [3, 17, 42, 5, 9]
        let a = try right.forward(tokens, cache: right.makeCache()).logits
        let b = try wrong.forward(tokens, cache: wrong.makeCache()).logits
        #expect(TestSupport.maxAbsoluteDifference(a, b) > 1e-3)
    }

    @Test("hyper-parameters from {arch}.* metadata (and what the tensors say) equal config.json's", arguments: families)
    func configMatches(family: String) throws {
        let ours = try GGUFModel.config(GGUFFile(path: Self.fixture("\(family)-f16.gguf")))
        let theirs = try ModelConfig.load(path: TestSupport.fixture(Self.hf(family) + "/config.json"))
        #expect(ours.denseLayers == theirs.denseLayers && ours.denseIntermediateSize == theirs.denseIntermediateSize)
        #expect(ours.sharedExperts == theirs.sharedExperts && ours.sharedIntermediateSize == theirs.sharedIntermediateSize)
        #expect(ours.sharedExpertGate == theirs.sharedExpertGate && ours.attentionBias == theirs.attentionBias)
        #expect(ours.queryKeyNormPerHead == theirs.queryKeyNormPerHead && ours.attentionScale == theirs.attentionScale)
        #expect(ours.embeddingMultiplier == theirs.embeddingMultiplier && ours.residualMultiplier == theirs.residualMultiplier)
        #expect(ours.logitsScaling == theirs.logitsScaling)
        #expect(ours.rotaryPairing == (["mixtral", "granitemoe"].contains(family) ? .adjacent : theirs.rotaryPairing), "llama and granitemoe permute q/k")
        #expect(ours.latentAttention == theirs.latentAttention && ours.yarn?.factor == theirs.yarn?.factor)
        #expect(ours.yarn?.originalContext == theirs.yarn?.originalContext)
        #expect(abs((ours.yarn?.softmaxScaleFactor ?? 1) - (theirs.yarn?.softmaxScaleFactor ?? 1)) < 1e-6)
        #expect(ours.routedScalingFactor == theirs.routedScalingFactor && ours.expertGroups == theirs.expertGroups)
        #expect(ours.routerScores == theirs.routerScores && ours.scoreCorrectionBias == theirs.scoreCorrectionBias)
        #expect(ours.family == theirs.family)
        #expect(ours.vocabSize == theirs.vocabSize && ours.hiddenSize == theirs.hiddenSize && ours.intermediateSize == theirs.intermediateSize)
        #expect(ours.numLayers == theirs.numLayers && ours.numHeads == theirs.numHeads && ours.numKeyValueHeads == theirs.numKeyValueHeads)
        #expect(ours.headDim == theirs.headDim && ours.ropeTheta == theirs.ropeTheta && ours.rmsNormEps == theirs.rmsNormEps)
        #expect(ours.numExperts == theirs.numExperts && ours.topK == theirs.topK && ours.normalizeTopK == theirs.normalizeTopK)
        #expect(ours.queryKeyNorm == theirs.queryKeyNorm && ours.maxPositionEmbeddings == theirs.maxPositionEmbeddings)
        #expect(ours.tieWordEmbeddings == theirs.tieWordEmbeddings)
    }

    @Test("tensor infos: ggml dims reversed, stacked experts split into in-place views")
    func views() throws {
        let gguf = try GGUFFile(path: Self.fixture("mixtral-f16.gguf"))
        #expect(gguf.version == 3 && gguf.alignment == 32 && gguf.dataStart % 32 == 0)
        let stacked = try #require(gguf.tensors["blk.1.ffn_down_exps.weight"])
        #expect(stacked.shape == [4, 32, 48] && stacked.format == .f16)
        #expect(gguf.tensors["blk.0.ffn_gate_inp.weight"]?.format == .f32, "the router stays f32")
        let config = try GGUFModel.config(gguf)
        let weights = try GGUFModel.weights(gguf, config: config)
        let expert = try #require(weights.view("model.layers.1.block_sparse_moe.experts.2.w2.weight"))
        #expect(expert.shape == [32, 48] && expert.file === gguf.file)
        #expect(expert.base == stacked.base + 2 * 32 * 48 * 2, "expert 2 starts two experts' bytes in, no copy")
        #expect(weights.layerCount == 2)
        // The HF tensors of the F32 file hold the same values (experts unstacked).
        let hf = try CheckpointWeights(directory: TestSupport.fixture("hf-mixtral"))
        let f32 = try GGUFModel.weights(GGUFFile(path: Self.fixture("mixtral-f32.gguf")), config: config)
        for name in hf.names where !name.contains("q_proj") && !name.contains("k_proj") {
            #expect(f32.view(name)?.floats() == hf.view(name)!.floats(), "\(name)")
        }
        #expect(Set(f32.names) == Set(hf.names))
    }

    // MARK: Tokenizers

    static let variedText = "Mixed: naïve café, 🙂 emoji, tabs\tand  spaces, digits 2024-12-01, <s> tags </s>, CJK 漢字 and ‘quotes’."

    @Test("a llama (SentencePiece) vocabulary encodes like its tokenizer.model and the sentencepiece library")
    func llamaVocabulary() throws {
        let gguf = try GGUFFile(path: Self.fixture("tokenizer-llama.gguf"))
        #expect(gguf.tensors.isEmpty)
        let ours = try Tokenizer.load(gguf: gguf.metadata)
        let theirs = try Tokenizer.load(directory: TestSupport.fixture("sentencepiece-bpe"))
        #expect(ours.style == .sentencePieceModel)
        #expect(ours.bosTokenId == theirs.bosTokenId && ours.eosTokenId == theirs.eosTokenId && ours.prefixTokenId == theirs.prefixTokenId)
        #expect(ours.vocabularySize == theirs.vocabularySize)
        for item in try Self.expectedIds()["tokenizer-llama.gguf"]! {
            #expect(ours.encode(item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(ours.decode(item.ids) == theirs.decode(item.ids))
        }
        #expect(ours.encode(Self.variedText) == theirs.encode(Self.variedText))
        for id in 0..<ours.vocabularySize { #expect(ours.bytes(of: id) == theirs.bytes(of: id)) }
    }

    @Test("a gpt2 (byte-level BPE) vocabulary encodes like its tokenizer.json and the tokenizers library")
    func gpt2Vocabulary() throws {
        let ours = try Tokenizer.load(gguf: GGUFFile(path: Self.fixture("tokenizer-gpt2.gguf")).metadata)
        let theirs = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-bytelevel/tokenizer.json"))
        #expect(ours.style == .byteLevel(.gpt2) && ours.prefixTokenId == nil)
        for item in try Self.expectedIds()["tokenizer-gpt2.gguf"]! {
            #expect(ours.encode(item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(theirs.encode(item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(ours.decode(item.ids) == theirs.decode(item.ids))
        }
        #expect(ours.encode(Self.variedText) == theirs.encode(Self.variedText))
    }

    @Test("the model files' own tokenizers encode as their reference libraries", arguments: ["mixtral-f16.gguf", "olmoe-f16.gguf"])
    func modelVocabularies(name: String) throws {
        let tokenizer = try ModelSource(path: Self.fixture(name)).tokenizer()
        for item in try Self.expectedIds()[name]! {
            #expect(tokenizer.encode(item.text) == item.ids, "\(name): \(item.text.debugDescription)")
        }
    }

    // MARK: Running a .gguf on its own

    @Test("a .gguf path, or a directory holding exactly one, runs as a model with its own tokenizer")
    func runsOnItsOwn() throws {
        let path = Self.fixture("olmoe-f16.gguf")
        let generator = try Generator(directory: path)
        let report = try generator.generate(prompt: "the cat sat", maxTokens: 4) { _ in }
        #expect(report.promptTokens >= 1 && report.generatedTokens >= 1, "\(report)")

        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.fixture("mixtral-f16.gguf"), toPath: directory + "/model.gguf")
        let model = try Transformer(directory: directory)
        #expect(model.config.family == .mixtral && model.weights.directory.hasSuffix("model.gguf"))
        try FileManager.default.copyItem(atPath: Self.fixture("olmoe-f16.gguf"), toPath: directory + "/other.gguf")
        #expect(throws: CheckpointError.self) { try Transformer(directory: directory) }

        let result = try TestSupport.run(["logits", "--model", Self.fixture("mixtral-f32.gguf"), "--tokens", "3,17,42"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
