import Foundation

/// One GGUF `general.architecture` as llama.cpp spells it: its `{arch}.*` keys and its tensor
/// names, each written once as a table that both directions use — `GGUFModel` reads a file
/// through it (GGUF → the Hugging Face names the `Architecture` files load), `GGUFExport` writes
/// through it (Hugging Face names → GGUF). Names and keys follow gguf-py 0.19's `constants.py`
/// and llama.cpp's `convert_hf_to_gguf.py`. One file per architecture; the registry is `all`.
protocol GGUFArchitecture: Sendable {
    /// `general.architecture`.
    var name: String { get }
    var family: ModelFamily { get }
    /// The family's own keys beyond `GGUFKey.common` (config.json key ↔ `{arch}.` suffix).
    var keys: [GGUFKey] { get }
    /// config.json keys a file states through its tensors rather than its metadata (biases,
    /// dense layers, shared experts), or that llama.cpp fixes per architecture.
    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws
    /// The block's tensors: attention (`GGUFTensor.attention`) and the feed-forward.
    func blockTensors(layer: Int, config: ModelConfig) -> [GGUFTensor]
    /// Tensors older files of the architecture hold instead of some of `blockTensors` (read, never written).
    func legacyTensors(layer: Int, config: ModelConfig) -> [GGUFTensor]
    /// q/k rows stored permuted for ggml's adjacent-pair RoPE (llama.cpp's `LlamaModel.permute`).
    var permutesQueryKey: Bool { get }
    /// The RoPE pairing the architecture's files imply when not permuted (deepseek2: adjacent).
    var rotaryPairing: RotaryEmbedding.Pairing { get }
    /// Whether this table reads `file`: tables may share a `general.architecture` (deepseek2 is
    /// DeepSeek-V2 or V3 by its gating function).
    func reads(_ file: GGUFFile) throws -> Bool
    /// `GGUFKey.common`, unless the architecture states head sizes its own way (deepseek2).
    var commonKeys: [GGUFKey] { get }
    /// Metadata that changes the computation in ways moepp does not implement for this
    /// architecture: refused in one line rather than run wrongly.
    func refuseUnimplemented(_ metadata: GGUFMetadata) throws
    /// The file's head-size keys against the decoded config.
    func checkHeadSizes(_ metadata: GGUFMetadata, config: ModelConfig) throws
}

extension GGUFArchitecture {
    var permutesQueryKey: Bool { false }
    var rotaryPairing: RotaryEmbedding.Pairing { .halves }
    func legacyTensors(layer: Int, config: ModelConfig) -> [GGUFTensor] { [] }
    func reads(_ file: GGUFFile) throws -> Bool { true }
    var commonKeys: [GGUFKey] { GGUFKey.common }

    /// Plain RoPE, no shared experts or dense layers, softmax gating, unscaled weights.
    func refuseUnimplemented(_ metadata: GGUFMetadata) throws {
        let scaling = "\(name).rope.scaling.type"
        if metadata.has(scaling), try metadata.string(scaling) != "none" {
            throw metadata.fail(scaling, "RoPE scaling \"\(try metadata.string(scaling))\" is not implemented (moepp runs plain RoPE only)")
        }
        for (suffix, allowed) in [("expert_shared_count", 0.0), ("leading_dense_block_count", 0.0), ("expert_gating_func", 1.0),
                                  ("expert_weights_scale", 1.0)] where metadata.has("\(name).\(suffix)") {
            let value = try metadata.double("\(name).\(suffix)")
            guard value == allowed else { throw metadata.fail("\(name).\(suffix)", "\(value) is not implemented for \(name) (expected \(allowed))") }
        }
    }

    /// Equal key and value heads, rotated whole.
    func checkHeadSizes(_ metadata: GGUFMetadata, config: ModelConfig) throws {
        if metadata.has("\(name).attention.value_length"), try metadata.int("\(name).attention.value_length") != config.headDim {
            throw metadata.fail("\(name).attention.value_length", "differs from the key length \(config.headDim) (moepp needs equal head sizes)")
        }
        if metadata.has("\(name).rope.dimension_count"), try metadata.int("\(name).rope.dimension_count") != config.headDim {
            throw metadata.fail("\(name).rope.dimension_count", "partial rotary embeddings are not implemented (head size \(config.headDim))")
        }
    }
    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {}
    func blockTensors(layer l: Int, config: ModelConfig) -> [GGUFTensor] {
        GGUFTensor.attention(layer: l, config: config, permuted: permutesQueryKey) + GGUFTensor.routedExperts(layer: l, config: config)
    }
}

/// The registry of GGUF architectures moepp reads and writes.
enum GGUFArchitectures {
    static let all: [any GGUFArchitecture] = [
        GGUFLlama(), GGUFOLMoE(), GGUFMoEPlusPlus(), GGUFQwen2MoE(), GGUFQwen3MoE(), GGUFGraniteMoE(),
        GGUFDeepSeek2(), GGUFDeepSeek3(),
    ]

    /// The table for `file`'s architecture (nil when moepp has none).
    static func of(_ file: GGUFFile, named name: String) throws -> (any GGUFArchitecture)? {
        try all.first { try $0.name == name && $0.reads(file) }
    }
    static func of(_ family: ModelFamily) -> (any GGUFArchitecture)? { all.first { $0.family == family } }
}

/// One hyper-parameter: the config.json key a family's `decodeConfig` reads ("" for keys only
/// written), the GGUF key (after `{arch}.`), and what the writer stores (nil: nothing, as
/// llama.cpp's converter omits it).
struct GGUFKey: Sendable {
    let json: String
    let gguf: String
    let value: @Sendable (ModelConfig) -> GGUFValue?

    init(_ json: String, _ gguf: String, _ value: @escaping @Sendable (ModelConfig) -> GGUFValue?) {
        self.json = json
        self.gguf = gguf
        self.value = value
    }

    static func u32(_ v: Int) -> GGUFValue { .uint32(UInt32(v)) }

    /// What every architecture writes (TextModel.set_gguf_parameters and LlamaModel's
    /// vocab_size / rope.dimension_count) and reads back.
    static let common: [GGUFKey] = [
        GGUFKey("vocab_size", "vocab_size") { u32($0.vocabSize) },
        GGUFKey("max_position_embeddings", "context_length") { u32($0.maxPositionEmbeddings) },
        GGUFKey("hidden_size", "embedding_length") { u32($0.hiddenSize) },
        GGUFKey("num_hidden_layers", "block_count") { u32($0.numLayers) },
        GGUFKey("num_attention_heads", "attention.head_count") { u32($0.numHeads) },
        GGUFKey("num_key_value_heads", "attention.head_count_kv") { u32($0.numKeyValueHeads) },
        GGUFKey("head_dim", "attention.key_length") { u32($0.headDim) },
        GGUFKey("", "attention.value_length") { u32($0.headDim) },
        GGUFKey("", "rope.dimension_count") { u32($0.headDim) },
        GGUFKey("rope_theta", "rope.freq_base") { .float32($0.ropeTheta) },
        GGUFKey("rms_norm_eps", "attention.layer_norm_rms_epsilon") { .float32($0.rmsNormEps) },
        GGUFKey("num_experts_per_tok", "expert_used_count") { u32($0.topK) },
    ]
}

/// One GGUF tensor and the Hugging Face tensor(s) it holds.
struct GGUFTensor {
    enum Parts {
        /// One tensor of the same shape.
        case tensor(String)
        /// One tensor per expert, stacked on a new first axis ([experts] + shape).
        case experts([String])
        /// Half `half` (0 or 1) of each expert's rows of a stacked [E, 2·rows, cols] tensor
        /// `whole` (Granite's input_linear: gate rows, then up rows); read back, the GGUF tensor
        /// is viewed whole under `readAs` (no Hugging Face name exists for a half).
        case halves(of: String, half: Int, readAs: String)
        /// One half of each head's rows of MLA's kv_b_proj `whole` [H·(nope + v), r] (per head
        /// nope key rows, then v value rows): the keys transposed per head, [H, r, nope]
        /// (`attn_k_b`), or the values, [H, v, r] (`attn_v_b`); read back under `readAs`, H·r rows
        /// of nope or H·v rows of r.
        case latentUp(of: String, keys: Bool, nope: Int, value: Int, readAs: String)
    }
    let name: String
    /// PyTorch order, the whole GGUF tensor's.
    let shape: [Int]
    let parts: Parts
    /// Norms, biases, routers, gating residual, constants: F32 whatever the type (the converter
    /// keeps 1-D tensors, `ffn_gate_inp` and `ffn_gate_inp_shexp` in F32).
    let keepF32: Bool
    let layer: Int?
    /// Rows permuted per head for adjacent-pair RoPE (llama q/k).
    var permuted = false

    init(_ name: String, _ shape: [Int], _ parts: Parts, keepF32: Bool = false, layer: Int?, permuted: Bool = false) {
        self.name = name
        self.shape = shape
        self.parts = parts
        self.keepF32 = keepF32
        self.layer = layer
        self.permuted = permuted
    }

    /// The skeleton before and after the blocks.
    static func head(config c: ModelConfig) -> [GGUFTensor] {
        [GGUFTensor("token_embd.weight", [c.vocabSize, c.hiddenSize], .tensor(TensorNames.embedding), layer: nil)]
    }

    static func tail(config c: ModelConfig) -> [GGUFTensor] {
        var out = [GGUFTensor("output_norm.weight", [c.hiddenSize], .tensor(TensorNames.finalNorm), keepF32: true, layer: nil)]
        if !c.tieWordEmbeddings { out.append(GGUFTensor("output.weight", [c.vocabSize, c.hiddenSize], .tensor(TensorNames.lmHead), layer: nil)) }
        return out
    }

    /// Norms and attention: `attn_norm`, `attn_{q,k,v,output}` (+ `.bias` for q/k/v when the
    /// config has biases), `attn_{q,k}_norm` with q/k norm, `ffn_norm`.
    static func attention(layer l: Int, config c: ModelConfig, permuted: Bool) -> [GGUFTensor] {
        let names = TensorNames(family: c.family), b = "blk.\(l)."
        var out = [GGUFTensor(b + "attn_norm.weight", [c.hiddenSize], .tensor(names.inputNorm(l)), keepF32: true, layer: l)]
        for (part, projection, rows) in [("attn_q", "q_proj", c.queryDim), ("attn_k", "k_proj", c.keyValueDim), ("attn_v", "v_proj", c.keyValueDim)] {
            let permute = permuted && part != "attn_v"
            out.append(GGUFTensor(b + part + ".weight", [rows, c.hiddenSize], .tensor(names.attention(l, projection)), layer: l, permuted: permute))
            if c.attentionBias {
                out.append(GGUFTensor(b + part + ".bias", [rows], .tensor(names.attentionBias(l, projection)), keepF32: true, layer: l, permuted: permute))
            }
        }
        out.append(GGUFTensor(b + "attn_output.weight", [c.hiddenSize, c.queryDim], .tensor(names.attention(l, "o_proj")), layer: l))
        if c.queryKeyNorm {
            let widths = c.queryKeyNormWidth
            out.append(GGUFTensor(b + "attn_q_norm.weight", [widths.query], .tensor(names.queryNorm(l)), keepF32: true, layer: l))
            out.append(GGUFTensor(b + "attn_k_norm.weight", [widths.key], .tensor(names.keyNorm(l)), keepF32: true, layer: l))
        }
        out.append(GGUFTensor(b + "ffn_norm.weight", [c.hiddenSize], .tensor(names.postAttentionNorm(l)), keepF32: true, layer: l))
        return out
    }

    /// A linear router `ffn_gate_inp` and SwiGLU experts stacked into `ffn_{gate,up,down}_exps`
    /// (the family's `expertNames`, gate and up apart).
    static func routedExperts(layer l: Int, config c: ModelConfig) -> [GGUFTensor] {
        let arch = c.family.architecture, b = "blk.\(l)."
        var gates: [String] = [], ups: [String] = [], downs: [String] = []
        for e in 0..<c.numFFNExperts {
            let names = arch.expertNames(layer: l, expert: e)
            guard case .separate(let gate, let up) = names.gateUp else { preconditionFailure("\(c.family) fuses gate and up; its GGUF table says how") }
            gates.append(gate)
            ups.append(up)
            downs.append(names.down)
        }
        let (d, inner) = (c.hiddenSize, c.intermediateSize)
        return [GGUFTensor(b + "ffn_gate_inp.weight", [c.numExperts, d], .tensor(arch.routerName(layer: l)), keepF32: true, layer: l),
                GGUFTensor(b + "ffn_gate_exps.weight", [gates.count, inner, d], .experts(gates), layer: l),
                GGUFTensor(b + "ffn_up_exps.weight", [ups.count, inner, d], .experts(ups), layer: l),
                GGUFTensor(b + "ffn_down_exps.weight", [downs.count, d, inner], .experts(downs), layer: l)]
    }

    /// One SwiGLU FFN as `ffn_{gate,up,down}{suffix}` (a dense layer's MLP: no suffix; a shared
    /// expert: `_shexp`).
    static func swiGLU(layer l: Int, _ names: ExpertTensorNames, suffix: String, inner: Int, config c: ModelConfig) -> [GGUFTensor] {
        guard case .separate(let gate, let up) = names.gateUp else { preconditionFailure("a dense or shared FFN with fused gate and up") }
        let b = "blk.\(l).", d = c.hiddenSize
        return [GGUFTensor(b + "ffn_gate\(suffix).weight", [inner, d], .tensor(gate), layer: l),
                GGUFTensor(b + "ffn_up\(suffix).weight", [inner, d], .tensor(up), layer: l),
                GGUFTensor(b + "ffn_down\(suffix).weight", [d, inner], .tensor(names.down), layer: l)]
    }
}
