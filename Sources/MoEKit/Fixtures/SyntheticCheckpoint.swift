import Foundation

/// A full-size checkpoint of seeded random weights, written tensor by tensor (never whole in
/// memory) in the layout a real release uses: one shard per decoder layer plus one for the
/// embedding, final norm and lm_head, and an index. What benchmarks at real scale run on.
public struct SyntheticCheckpoint {
    public enum FileFormat: String, CaseIterable, Sendable {
        case safetensors
        /// PyTorch `torch.save` zip shards, as the official MoE++ 7B ships.
        case bin
    }

    public var config: ModelConfig
    /// Format of every weight but the router's.
    public var weightFormat: WeightFormat
    /// The MoE++ release keeps its router in f32.
    public var routerFormat: WeightFormat

    public init(config: ModelConfig, weightFormat: WeightFormat = .bf16, routerFormat: WeightFormat? = nil) {
        self.config = config
        self.weightFormat = weightFormat
        self.routerFormat = routerFormat ?? weightFormat
    }

    /// The official MoE++ 7B's shapes (moepp-spec "Checkpoint layout"): vocab 65 536, hidden
    /// 1536, 24 layers, 16 heads, 16 FFN experts of 4096 + 2 constant + copy + zero, top-2,
    /// logits norm on, no input multiplication by k; bf16 with an f32 router.
    public static func moeppRelease7B() -> SyntheticCheckpoint {
        var config = ModelConfig(family: .moepp, vocabSize: 65_536, hiddenSize: 1536, intermediateSize: 4096, numLayers: 24,
                                 numHeads: 16, numKeyValueHeads: 16, numExperts: 20, topK: 2, ropeTheta: 10_000,
                                 rmsNormEps: 1e-6, maxPositionEmbeddings: 4096)
        config.useLogitsNorm = true
        config.gateNormStd = 1
        config.multiplyInputByTopK = false
        config.bosTokenId = 1
        config.eosTokenIds = [2]
        return SyntheticCheckpoint(config: config, weightFormat: .bf16, routerFormat: .f32)
    }

    /// Granite-3.0-3B-A800M's shapes (ibm-granite's config.json): vocab 49 155, hidden 1536, 32
    /// layers, 24 heads / 8 KV heads, 40 experts of 512 (stacked input_linear / output_linear),
    /// top-8, tied embeddings; multipliers attention 1/64, embedding 12, residual 0.22, logits ÷ 6;
    /// bf16. About 3.3 B parameters, 6.7 GB.
    public static func graniteMoE3BA800M() -> SyntheticCheckpoint {
        var config = ModelConfig(family: .graniteMoE, vocabSize: 49_155, hiddenSize: 1536, intermediateSize: 512, numLayers: 32,
                                 numHeads: 24, numKeyValueHeads: 8, numExperts: 40, topK: 8, ropeTheta: 10_000,
                                 rmsNormEps: 1e-6, maxPositionEmbeddings: 4096)
        config.tieWordEmbeddings = true
        config.attentionScale = 0.015625
        config.embeddingMultiplier = 12
        config.residualMultiplier = 0.22
        config.logitsScaling = 6
        config.bosTokenId = 0
        config.eosTokenIds = [0]
        return SyntheticCheckpoint(config: config, weightFormat: .bf16)
    }

    /// OLMoE-1B-7B (0924)'s shapes (allenai's config.json): vocab 50 304, hidden 2048, 16 layers,
    /// 16 heads, 64 experts of 1024, top-8 without renormalisation, q/k norm over the whole
    /// projection, untied lm_head; bf16. About 6.9 B parameters, 13.8 GB.
    public static func olmoe1B7B() -> SyntheticCheckpoint {
        var config = ModelConfig(family: .olmoe, vocabSize: 50_304, hiddenSize: 2048, intermediateSize: 1024, numLayers: 16,
                                 numHeads: 16, numKeyValueHeads: 16, numExperts: 64, topK: 8, ropeTheta: 10_000,
                                 rmsNormEps: 1e-5, maxPositionEmbeddings: 4096)
        config.normalizeTopK = false
        config.bosTokenId = 50_279
        config.eosTokenIds = [50_279]
        return SyntheticCheckpoint(config: config, weightFormat: .bf16)
    }

    /// Mixtral-style models for the side-by-side benchmark against llama.cpp (`make
    /// bench-llamacpp`): 8 experts, top-2, GQA 4:1, head 64, SentencePiece vocabulary, every
    /// matrix width a multiple of 256 so that Q4_K needs no fallback. `small` is 147 M parameters
    /// (41 M active per token, vocab 512; its weights fit no cache but its lm_head does); `large`
    /// is 1.13 B (420 M active, vocab 32 000), many times the 36 MB L3.
    public enum MixtralBenchmarkSize: String, CaseIterable, Sendable { case small, large }

    public static func mixtralBenchmark(_ size: MixtralBenchmarkSize, weightFormat: WeightFormat = .bf16) -> SyntheticCheckpoint {
        let (vocab, hidden, intermediate, layers) = size == .small ? (512, 768, 2560, 3) : (32_000, 2048, 3840, 5)
        let heads = hidden / 64
        var config = ModelConfig(family: .mixtral, vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate,
                                 numLayers: layers, numHeads: heads, numKeyValueHeads: heads / 4, numExperts: 8, topK: 2,
                                 ropeTheta: 1_000_000, rmsNormEps: 1e-5, maxPositionEmbeddings: 4096)
        config.bosTokenId = 1
        config.eosTokenIds = [2]
        return SyntheticCheckpoint(config: config, weightFormat: weightFormat)
    }

    /// Shard s < layers holds decoder layer s; the last shard the embedding, final norm, lm_head.
    public var shards: [[CheckpointLayout.Entry]] {
        let layout = CheckpointLayout(config: config)
        var byLayer = [[CheckpointLayout.Entry]](repeating: [], count: config.numLayers + 1)
        for entry in layout.entries {
            byLayer[Self.layer(of: entry.name) ?? config.numLayers].append(entry)
        }
        return byLayer
    }

    static func layer(of name: String) -> Int? {
        guard name.hasPrefix("model.layers.") else { return nil }
        return Int(name.dropFirst("model.layers.".count).prefix { $0.isNumber })
    }

    public func format(of entry: CheckpointLayout.Entry) -> WeightFormat {
        entry.role == .router ? routerFormat : weightFormat
    }

    public static func shardName(_ index: Int, of count: Int, _ fileFormat: FileFormat) -> String {
        let stem = fileFormat == .bin ? "pytorch_model" : "model"
        return String(format: "%@-%05d-of-%05d.%@", stem, index + 1, count, fileFormat == .bin ? "bin" : "safetensors")
    }

    public static func indexName(_ fileFormat: FileFormat) -> String {
        fileFormat == .bin ? "pytorch_model.bin.index.json" : "model.safetensors.index.json"
    }

    /// Writes config.json, the shards and their index into `directory`. `makeWriter` opens one
    /// shard for streaming (safetensors here; the `.bin` writer for the release layout).
    public func write(to directory: String, fileFormat: FileFormat, seed: UInt64,
                      makeWriter: (String, [PlannedTensor]) throws -> any StreamingTensorWriter,
                      log: (String) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let shards = self.shards
        var weightMap: [String: String] = [:]
        var totalBytes = 0
        for (s, entries) in shards.enumerated() {
            let name = Self.shardName(s, of: shards.count, fileFormat)
            let plan = entries.map { PlannedTensor(name: $0.name, format: format(of: $0), shape: $0.shape) }
            let writer = try makeWriter((directory as NSString).appendingPathComponent(name), plan)
            for (entry, tensor) in zip(entries, plan) {
                var random = SeededRandom(seed: seed &+ UInt64(truncatingIfNeeded: entry.name.hashValueStable))
                let (center, halfWidth) = Self.distribution(entry)
                try writer.write(tensor) { buffer, _ in
                    Self.fillUniform(buffer, format: tensor.format, center: center, halfWidth: halfWidth, random: &random)
                }
                weightMap[entry.name] = name
                totalBytes += tensor.byteCount
            }
            try writer.finish()
            log("wrote \(name) (\(s + 1)/\(shards.count))")
        }
        let mapText = weightMap.keys.sorted().map { "    \(jsonString($0)): \(jsonString(weightMap[$0]!))" }.joined(separator: ",\n")
        let index = "{\n  \"metadata\": {\"total_size\": \(totalBytes)},\n  \"weight_map\": {\n\(mapText)\n  }\n}\n"
        try AtomicFile.write(Data(index.utf8), to: (directory as NSString).appendingPathComponent(Self.indexName(fileFormat)))
        try config.write(to: (directory as NSString).appendingPathComponent("config.json"))
    }

    /// Uniform weights with the standard deviation a trained model roughly has: 1/√fan-in for
    /// matrices, routers twice that (so tokens really pick different experts), norms near 1.
    static func distribution(_ entry: CheckpointLayout.Entry) -> (center: Float, halfWidth: Float) {
        let fanIn = Float(entry.shape.last ?? 1)
        let uniformFromStd = Float(3).squareRoot()
        switch entry.role {
        case .norm: return (1, 0.1 * uniformFromStd)
        case .router: return (0, 2 / fanIn.squareRoot() * uniformFromStd)
        case .gatingResidual: return (0, 0.3 * uniformFromStd)
        case .constantExpert: return (0, 0.5 * uniformFromStd)
        default: return (0, 1 / fanIn.squareRoot() * uniformFromStd)
        }
    }

    /// Fills `buffer` with values uniform in center ± halfWidth, encoded in `format`. Fast enough
    /// to write 15 GB in well under a minute of compute.
    static func fillUniform(_ buffer: UnsafeMutableRawBufferPointer, format: WeightFormat, center: Float, halfWidth: Float,
                            random: inout SeededRandom) {
        let scale = 2 * halfWidth / Float(1 << 24)
        func value(_ bits: UInt64) -> Float { center - halfWidth + Float(bits & 0xFF_FFFF) * scale }
        switch format {
        case .f32:
            let out = buffer.bindMemory(to: Float.self)
            for i in out.indices { out[i] = value(random.next()) }
        case .f16:
            let out = buffer.bindMemory(to: UInt16.self)
            for i in out.indices { out[i] = Float16(value(random.next())).bitPattern }
        case .bf16:
            let out = buffer.bindMemory(to: UInt16.self)
            var i = out.startIndex
            while i < out.endIndex {
                let bits = random.next()
                out[i] = floatToBFloat16(value(bits))
                if i + 1 < out.endIndex { out[i + 1] = floatToBFloat16(value(bits >> 32)) }
                i += 2
            }
        case .q8_0, .q4_0, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k:
            preconditionFailure("synthetic checkpoints are written in element formats (safetensors, .bin)")
        }
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: a seed per tensor name that is the same in every process
    /// (Swift's `hashValue` is randomised per run).
    var hashValueStable: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }
}
