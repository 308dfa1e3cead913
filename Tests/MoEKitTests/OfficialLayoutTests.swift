import Foundation
import Testing
@testable import MoEKit

/// The official MoE++ release layout end to end: PyTorch `.bin` shards (made by torch.save in
/// the fixture script) run exactly like the same tensors in safetensors; the expert cache reads
/// experts from `.bin` shards; `moepp synthesize`'s release-shaped output (zip shards written by
/// our own writer, a SentencePiece tokenizer.model) loads and generates.
@Suite("Official MoE++ layout: .bin shards, SentencePiece, synthetic release")
struct OfficialLayoutTests {
    let prompt = [5, 17, 101, 33, 250, 7, 64, 199, 12, 3, 88, 140]

    func logits(_ directory: String) throws -> (logits: [Float], chosen: [[Int]]) {
        let model = try Transformer(directory: directory)
        let output = try model.forward(prompt, cache: model.makeCache(), allLogits: true)
        return (output.logits, output.routing.flatMap { $0.map { $0.chosen.map(\.index) } })
    }

    @Test(".bin shards give logits and routing bit-identical to the safetensors copy at every position")
    func binEqualsSafetensors() throws {
        let bin = try logits(TestSupport.fixture("torch-moepp"))
        let safetensors = try logits(TestSupport.fixture("torch-moepp-safetensors"))
        #expect(bin.logits.count == prompt.count * 300)
        #expect(bin.logits == safetensors.logits)
        #expect(bin.chosen == safetensors.chosen)
    }

    @Test("the expert cache reads experts from .bin shards with outputs identical to the mapping")
    func expertCacheOnBin() throws {
        let directory = TestSupport.fixture("torch-moepp")
        let reference = try logits(directory)
        let model = try Transformer(directory: directory)
        let cache = try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(3), policy: .lru, prefetch: true)
        let output = try model.forward(prompt, cache: model.makeCache(), allLogits: true)
        #expect(output.logits == reference.logits)
        #expect(cache.store.slotBytes == 3 * 32 * 64 * 2)
        let misses = cache.statistics.reduce(0) { $0 + $1.misses }
        #expect(misses > 0, "experts were read from the shards")
    }

    @Test("a release-shaped synthetic checkpoint: .bin and safetensors agree, and it generates with its tokenizer.model")
    func syntheticRelease() throws {
        var synthetic = SyntheticCheckpoint.moeppRelease7B()
        synthetic.config = ModelConfig(family: .moepp, vocabSize: 1024, hiddenSize: 64, intermediateSize: 128, numLayers: 3,
                                       numHeads: 4, numKeyValueHeads: 4, numExperts: 8, topK: 2, maxPositionEmbeddings: 256)
        synthetic.config.useLogitsNorm = true
        synthetic.config.bosTokenId = 1
        synthetic.config.eosTokenIds = [2]
        let root = TestSupport.temporaryDirectory()
        for format in SyntheticCheckpoint.FileFormat.allCases {
            try synthetic.write(to: root + "/" + format.rawValue, fileFormat: format, seed: 3) { path, plan in
                format == .bin ? try TorchCheckpointWriter(path: path) as any StreamingTensorWriter : try SafeTensorsStreamWriter(path: path, plan: plan)
            }
            try SyntheticTokenizer.write(vocabularySize: 1024, to: root + "/" + format.rawValue)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: root + "/bin").sorted()
        #expect(files.contains("pytorch_model-00004-of-00004.bin") && files.contains("pytorch_model.bin.index.json"))
        let weights = try CheckpointWeights(directory: root + "/bin")
        #expect(weights.view("model.layers.0.mlp.moe.gate.wg.weight")?.format == .f32, "the router stays f32")
        #expect(weights.view("model.layers.0.mlp.moe.experts.experts.0.up_proj.weight")?.format == .bf16)
        #expect(try logits(root + "/bin").logits == logits(root + "/safetensors").logits)

        let generator = try Generator(directory: root + "/bin")
        #expect(generator.tokenizer.prefixTokenId == 1, "add_bos_token puts <s> first")
        let ids = generator.tokenizer.encode("the quick brown fox")
        #expect(ids.count < "the quick brown fox".count, "text merges into multi-character pieces")
        #expect(generator.tokenizer.decode(ids) == "the quick brown fox")
        let report = try generator.generate(prompt: "the quick brown fox", maxTokens: 6) { _ in }
        #expect(report.generatedTokens > 0)
    }
}
