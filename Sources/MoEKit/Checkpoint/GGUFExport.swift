import Foundation

/// What `moepp quantize --type` writes: one base format for the large matrices, or llama.cpp's
/// Q4_K_M mix.
public enum QuantizationType: String, CaseIterable, Sendable {
    case q8_0, q4_0, q4_k, q4_k_m, f16, bf16, f32

    /// The format of every matrix not kept in f32 (before q4_k_m's Q6_K rule and fallbacks).
    public var baseFormat: WeightFormat {
        switch self {
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_k, .q4_k_m: return .q4_k
        case .f16: return .f16
        case .bf16: return .bf16
        case .f32: return .f32
        }
    }

    /// `general.file_type` (llama.cpp's LLAMA_FTYPE: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2,
    /// MOSTLY_Q8_0 7, MOSTLY_Q4_K_S 14 — plain Q4_K everywhere is closest to it —, MOSTLY_Q4_K_M 15,
    /// MOSTLY_BF16 32).
    public var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q8_0: return 7
        case .q4_k: return 14
        case .q4_k_m: return 15
        case .bf16: return 32
        }
    }
}

/// A model from any source moepp reads (safetensors, `.bin`, GGUF) written as one GGUF file, tensor
/// by tensor, a few MiB of rows at a time (`GGUFWriter`): the model is never in memory twice.
///
/// Vanilla families use llama.cpp's names and keys (`convert_hf_to_gguf.py`, mirrored by
/// `GGUFModel`): Mixtral → `llama` with experts, its q/k rows permuted for ggml's adjacent-pair
/// RoPE (LlamaModel.permute) unless the source is already a `llama` GGUF; OLMoE → `olmoe`. Experts
/// are stacked into 3-D `blk.N.ffn_{gate,up,down}_exps`. MoE++ → architecture `moepp` (our keys,
/// see `GGUFExport.moeppKeys` and the README). Norms, 1-D tensors, routers (`ffn_gate_inp*`), the
/// gating residual and constant experts stay F32 (llama.cpp's converter keeps norms and
/// `ffn_gate_inp` in F32 too); every other matrix takes the type's format, with fallbacks for rows
/// that are not whole blocks (`format(for:)`). The tokenizer is written as `tokenizer.ggml.*`
/// (`GGUFTokenizerExport`).
public struct GGUFExport {
    public struct Choice: Sendable {
        public let name: String
        public let shape: [Int]
        /// What the type asked for, and what was written (they differ for a fallback).
        public let wanted: WeightFormat
        public let used: WeightFormat
    }

    public struct Report: Sendable {
        public var tensors: [Choice] = []
        public var bytes = 0
        /// "llama (SentencePiece)", "gpt2", "copied from the GGUF", or nil when the source has none.
        public var tokenizer: String?
        public var fallbacks: [Choice] { tensors.filter { $0.wanted != $0.used } }
    }

    /// One output tensor: its rows are those of `parts` in turn (experts stacked on the first
    /// axis), each part's rows in the order `sourceRow` gives.
    struct Tensor {
        let name: String
        let shape: [Int]
        let parts: [TensorView]
        var sourceRow: (@Sendable (Int) -> Int)?
        /// Norms, routers, gating residual, constants: written in F32 whatever the type.
        let keepF32: Bool
        var layer: Int?
    }

    public let config: ModelConfig
    public let architecture: String
    let weights: CheckpointWeights
    let type: QuantizationType
    /// The source stores q/k rows in ggml's adjacent-pair order already (a `llama` GGUF).
    let sourceIsPermuted: Bool

    public init(config: ModelConfig, weights: CheckpointWeights, type: QuantizationType) throws {
        self.config = config
        self.weights = weights
        self.type = type
        architecture = try Self.architectureName(config.family, file: weights.directory)
        sourceIsPermuted = config.rotaryPairing == .adjacent
        guard config.denseLayers.isEmpty, config.sharedExperts == 0, !config.attentionBias else {
            throw CheckpointError(file: weights.directory, "dense layers, shared experts and attention biases have no GGUF mapping in moepp quantize yet")
        }
        if sourceIsPermuted && architecture != "llama" {
            throw CheckpointError(file: weights.directory, "q/k rows in adjacent-pair order can only be written as llama")
        }
    }

    /// GGUF `general.architecture` of a family: what llama.cpp calls it, or ours for MoE++.
    public static func architectureName(_ family: ModelFamily, file: String) throws -> String {
        switch family {
        case .mixtral: return "llama"
        case .olmoe: return "olmoe"
        case .moepp: return "moepp"
        default: throw CheckpointError(file: file, "moepp quantize writes Mixtral, OLMoE and MoE++ models; \(family) has no GGUF mapping yet")
        }
    }

    // MARK: Tensors

    /// Every output tensor in llama.cpp's order (embedding, each block, final norm, output).
    func tensors() throws -> [Tensor] {
        let c = config
        let (d, inner) = (c.hiddenSize, c.intermediateSize)
        let names = TensorNames(family: c.family)
        let arch = c.family.architecture
        func view(_ name: String, _ shape: [Int]) throws -> TensorView { try weights.tensor(name, shape: shape) }
        func matrix(_ gguf: String, _ hf: String, _ shape: [Int], layer: Int?) throws -> Tensor {
            Tensor(name: gguf, shape: shape, parts: [try view(hf, shape)], keepF32: false, layer: layer)
        }
        func small(_ gguf: String, _ hf: String, _ shape: [Int], layer: Int?) throws -> Tensor {
            Tensor(name: gguf, shape: shape, parts: [try view(hf, shape)], keepF32: true, layer: layer)
        }
        /// Several same-shaped tensors stacked on a new first axis.
        func stacked(_ gguf: String, _ hf: [String], _ shape: [Int], keepF32: Bool, layer: Int) throws -> Tensor {
            Tensor(name: gguf, shape: [hf.count] + shape, parts: try hf.map { try view($0, shape) }, keepF32: keepF32, layer: layer)
        }
        var out: [Tensor] = [try matrix("token_embd.weight", TensorNames.embedding, [c.vocabSize, d], layer: nil)]
        for l in 0..<c.numLayers {
            let b = "blk.\(l)."
            out.append(try small(b + "attn_norm.weight", names.inputNorm(l), [d], layer: l))
            var q = try matrix(b + "attn_q.weight", names.attention(l, "q_proj"), [c.queryDim, d], layer: l)
            var k = try matrix(b + "attn_k.weight", names.attention(l, "k_proj"), [c.keyValueDim, d], layer: l)
            if architecture == "llama" && !sourceIsPermuted {
                q.sourceRow = Self.adjacentPairRow(headDim: c.headDim)
                k.sourceRow = Self.adjacentPairRow(headDim: c.headDim)
            }
            out += [q, k]
            out.append(try matrix(b + "attn_v.weight", names.attention(l, "v_proj"), [c.keyValueDim, d], layer: l))
            out.append(try matrix(b + "attn_output.weight", names.attention(l, "o_proj"), [d, c.queryDim], layer: l))
            if c.queryKeyNorm {
                let widths = c.queryKeyNormWidth
                out.append(try small(b + "attn_q_norm.weight", names.queryNorm(l), [widths.query], layer: l))
                out.append(try small(b + "attn_k_norm.weight", names.keyNorm(l), [widths.key], layer: l))
            }
            out.append(try small(b + "ffn_norm.weight", names.postAttentionNorm(l), [d], layer: l))
            let experts = 0..<c.numFFNExperts
            if let moepp = arch as? MoEPlusPlusArchitecture {
                if c.twoLayerGate {
                    out.append(try small(b + "ffn_gate_inp_0.weight", moepp.twoLayerRouterName(layer: l, stage: 0), [8 * c.numExperts, d], layer: l))
                    out.append(try small(b + "ffn_gate_inp_2.weight", moepp.twoLayerRouterName(layer: l, stage: 2), [c.numExperts, 8 * c.numExperts], layer: l))
                } else {
                    out.append(try small(b + "ffn_gate_inp.weight", moepp.routerName(layer: l), [c.numExperts, d], layer: l))
                }
                out.append(try small(b + "ffn_gate_res.weight", moepp.gatingResidualName(layer: l), [c.numExperts, c.numExperts], layer: l))
                let fused = experts.map { e -> String in
                    guard case .fused(let name) = moepp.expertNames(layer: l, expert: e).gateUp else { preconditionFailure("MoE++ fuses gate and up") }
                    return name
                }
                out.append(try stacked(b + "ffn_gate_up_exps.weight", fused, [2 * inner, d], keepF32: false, layer: l))
                out.append(try stacked(b + "ffn_down_exps.weight", experts.map { moepp.expertNames(layer: l, expert: $0).down }, [d, inner], keepF32: false, layer: l))
                let slots = moepp.constantSlots(c.numExperts)
                out.append(try stacked(b + "ffn_const_exps.weight", slots.map { moepp.constantVectorName(layer: l, expert: $0) }, [d], keepF32: true, layer: l))
                out.append(try stacked(b + "ffn_const_gate_exps.weight", slots.map { moepp.constantMixingName(layer: l, expert: $0) }, [2, d], keepF32: true, layer: l))
            } else {
                out.append(try small(b + "ffn_gate_inp.weight", arch.routerName(layer: l), [c.numExperts, d], layer: l))
                var gates: [String] = [], ups: [String] = []
                for e in experts {
                    guard case .separate(let gate, let up) = arch.expertNames(layer: l, expert: e).gateUp else {
                        throw CheckpointError(file: weights.directory, "family \(c.family) fuses gate and up; no GGUF mapping")
                    }
                    gates.append(gate)
                    ups.append(up)
                }
                out.append(try stacked(b + "ffn_gate_exps.weight", gates, [inner, d], keepF32: false, layer: l))
                out.append(try stacked(b + "ffn_up_exps.weight", ups, [inner, d], keepF32: false, layer: l))
                out.append(try stacked(b + "ffn_down_exps.weight", experts.map { arch.expertNames(layer: l, expert: $0).down }, [d, inner], keepF32: false, layer: l))
            }
        }
        out.append(try small("output_norm.weight", TensorNames.finalNorm, [d], layer: nil))
        if !c.tieWordEmbeddings {
            out.append(try matrix("output.weight", TensorNames.lmHead, [c.vocabSize, d], layer: nil))
        }
        return out
    }

    /// llama.cpp's `LlamaModel.permute` as a row map: output row r of a head takes the source row
    /// of the rotate-half layout — within a head, output i·2 + j ← source j·(head_dim/2) + i.
    static func adjacentPairRow(headDim: Int) -> @Sendable (Int) -> Int {
        { r in
            let head = r / headDim, within = r % headDim
            return head * headDim + (within % 2) * (headDim / 2) + within / 2
        }
    }

    // MARK: Formats

    /// The format a tensor is written in:
    /// - norms, 1-D tensors, routers, gating residual, constants: F32;
    /// - otherwise the type's base format, except for `q4_k_m`, which follows llama.cpp's
    ///   `llama_tensor_get_type` for Q4_K_M where it needs only formats moepp has: `output.weight`
    ///   (or `token_embd` when tied) Q6_K; `attn_v` and `ffn_down`(`_exps`) Q6_K in the layers
    ///   `usesMoreBits` picks; with exactly 8 experts, `attn_v` and `attn_k` Q8_0 instead (its
    ///   "8-expert model" bump). Its Q5_K bump of `attn_output` for 8 experts is not made (no Q5_K).
    /// - rows that are not whole blocks fall back: Q4_K → Q4_0 (same bits per weight; llama.cpp
    ///   takes Q5_0, which moepp lacks), Q6_K → Q8_0 (as llama.cpp), and Q8_0/Q4_0 → F16 (as
    ///   llama.cpp and its converter).
    func format(for tensor: Tensor) -> (wanted: WeightFormat, used: WeightFormat) {
        if tensor.keepF32 || tensor.shape.count < 2 { return (.f32, .f32) }
        var wanted = type.baseFormat
        if type == .q4_k_m {
            let name = tensor.name
            if name == "output.weight" || (config.tieWordEmbeddings && name == "token_embd.weight") {
                wanted = .q6_k
            } else if let l = tensor.layer, name.hasSuffix(".attn_v.weight") {
                wanted = config.numExperts == 8 ? .q8_0 : Self.usesMoreBits(layer: l, layers: config.numLayers) ? .q6_k : .q4_k
            } else if name.hasSuffix(".attn_k.weight"), config.numExperts == 8 {
                wanted = .q8_0
            } else if let l = tensor.layer, name.hasSuffix(".ffn_down_exps.weight"), Self.usesMoreBits(layer: l, layers: config.numLayers) {
                wanted = .q6_k
            }
        }
        var used = wanted
        let cols = tensor.shape.last!
        while !used.canHoldRow(of: cols) {
            switch used {
            case .q4_k: used = .q4_0
            case .q6_k: used = .q8_0
            default: used = .f16
            }
        }
        return (wanted, used)
    }

    /// llama.cpp's `use_more_bits(i, n)`: the first and last eighth of the layers, and every third
    /// layer between them.
    static func usesMoreBits(layer i: Int, layers n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    // MARK: Metadata

    /// `general.*` and `{arch}.*` keys (the tokenizer's come from `GGUFTokenizerExport`).
    func metadata(name: String, anyBlocks: Bool) -> [(key: String, value: GGUFValue)] {
        let c = config, a = architecture
        func u32(_ v: Int) -> GGUFValue { .uint32(UInt32(v)) }
        var keys: [(String, GGUFValue)] = [
            ("general.architecture", .string(a)), ("general.name", .string(name)),
            ("general.file_type", .uint32(type.fileType)),
        ]
        if anyBlocks { keys.append(("general.quantization_version", .uint32(2))) }
        keys += [
            ("\(a).vocab_size", u32(c.vocabSize)), ("\(a).context_length", u32(c.maxPositionEmbeddings)),
            ("\(a).embedding_length", u32(c.hiddenSize)), ("\(a).block_count", u32(c.numLayers)),
            ("\(a).feed_forward_length", u32(c.intermediateSize)),
            ("\(a).attention.head_count", u32(c.numHeads)), ("\(a).attention.head_count_kv", u32(c.numKeyValueHeads)),
            ("\(a).attention.key_length", u32(c.headDim)), ("\(a).attention.value_length", u32(c.headDim)),
            ("\(a).rope.dimension_count", u32(c.headDim)), ("\(a).rope.freq_base", .float32(c.ropeTheta)),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps)),
            ("\(a).expert_count", u32(c.numExperts)), ("\(a).expert_used_count", u32(c.topK)),
        ]
        if a == "olmoe" {
            keys.append(("olmoe.expert_weights_norm", .bool(c.normalizeTopK)))
            if let clip = c.clipQKV { keys.append(("olmoe.attention.clamp_kqv", .float32(clip))) }
        }
        if a == "moepp" { keys += Self.moeppKeys(c) }
        return keys
    }

    /// MoE++'s own keys (all under `moepp.`; README "MoE++ in GGUF"). Router slots are ordered
    /// FFN experts 0…E−5, constant experts E−4 and E−3, copy E−2, zero E−1.
    static func moeppKeys(_ c: ModelConfig) -> [(key: String, value: GGUFValue)] {
        [("moepp.expert_ffn_count", .uint32(UInt32(c.numFFNExperts))), ("moepp.expert_constant_count", .uint32(2)),
         ("moepp.expert_copy_count", .uint32(1)), ("moepp.expert_zero_count", .uint32(1)),
         ("moepp.expert_gating_residual", .bool(true)),
         ("moepp.expert_logits_norm", .bool(c.useLogitsNorm)), ("moepp.expert_logits_norm_std", .float32(c.gateNormStd)),
         ("moepp.expert_gating_mixtral", .bool(c.useMixtralGating)),
         ("moepp.expert_input_scale_topk", .bool(c.multiplyInputByTopK)),
         ("moepp.expert_router_layers", .uint32(c.twoLayerGate ? 2 : 1)),
         ("moepp.expert_gate_up_fused", .bool(true))]
    }

    // MARK: Writing

    /// Writes the file (through `path.partial`, renamed at the end; removed on failure).
    /// `tokenizer`: `tokenizer.ggml.*` keys (`GGUFTokenizerExport`), or empty.
    public func write(to path: String, name: String, tokenizer: [(key: String, value: GGUFValue)],
                      progress: (String) -> Void = { _ in }) throws -> Report {
        let tensors = try tensors()
        var report = Report()
        var plan: [PlannedTensor] = []
        for tensor in tensors {
            let (wanted, used) = format(for: tensor)
            report.tensors.append(Choice(name: tensor.name, shape: tensor.shape, wanted: wanted, used: used))
            plan.append(PlannedTensor(name: tensor.name, format: used, shape: tensor.shape))
        }
        var keys = metadata(name: name, anyBlocks: plan.contains { $0.format.elementsPerBlock > 1 })
        // bos/eos the tokenizer does not name come from the model's config (config.json's ids).
        var tokenizer = tokenizer
        if !tokenizer.isEmpty {
            for (key, id) in [("tokenizer.ggml.bos_token_id", config.bosTokenId), ("tokenizer.ggml.eos_token_id", config.eosTokenIds.first)]
            where !tokenizer.contains(where: { $0.key == key }) {
                guard let id, id >= 0, id < config.vocabSize else { continue }
                tokenizer.append((key, .uint32(UInt32(id))))
            }
        }
        keys += tokenizer
        let writer = try GGUFWriter(path: path, metadata: keys, plan: plan)
        do {
            for (tensor, planned) in zip(tensors, plan) {
                progress("\(tensor.name) \(tensor.shape) → \(planned.format.name)")
                try write(tensor, as: planned, to: writer)
                report.bytes += planned.byteCount
            }
            try writer.finish()
        } catch {
            try? FileManager.default.removeItem(atPath: writer.temporaryPath)
            throw error
        }
        return report
    }

    /// Streams one tensor: each output row read from its source row (copied when the formats
    /// agree, else widened to f32 and encoded), rows of a chunk spread across cores.
    func write(_ tensor: Tensor, as planned: PlannedTensor, to writer: GGUFWriter) throws {
        let cols = tensor.shape.last!
        let format = planned.format
        let rowBytes = format.bytesPerRow(cols)
        let rowsPerPart = tensor.parts[0].elementCount / cols
        let parts = tensor.parts, sourceRow = tensor.sourceRow
        try writer.writeRows(planned) { rows, out in
            Parallel.forChunks(rows.count, work: rows.count * cols * 16) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: cols)
                defer { scratch.deallocate() }
                for i in range {
                    let r = rows.lowerBound + i
                    let part = parts[r / rowsPerPart]
                    let row = sourceRow?(r % rowsPerPart) ?? r % rowsPerPart
                    let source = part.base + row * part.format.bytesPerRow(cols)
                    let destination = out + i * rowBytes
                    if part.format == format {
                        destination.copyMemory(from: source, byteCount: rowBytes)
                        continue
                    }
                    convertToFloat(source, part.format, count: cols, into: scratch)
                    Self.encode(scratch, count: cols, as: format, into: destination)
                }
            }
        }
    }

    /// One row of floats in `format`'s bytes.
    static func encode(_ x: UnsafePointer<Float>, count: Int, as format: WeightFormat, into out: UnsafeMutableRawPointer) {
        switch format {
        case .f32: out.copyMemory(from: x, byteCount: count * 4)
        case .f16: for i in 0..<count { out.storeBytes(of: Float16(x[i]).bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        case .bf16: for i in 0..<count { out.storeBytes(of: floatToBFloat16(x[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        case .q8_0, .q4_0, .q4_k, .q6_k: quantizeBlocks(x, count: count, as: format, into: out)
        }
    }
}
