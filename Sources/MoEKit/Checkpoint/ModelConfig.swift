import Foundation

/// Architecture hyper-parameters decoded from `config.json`, normalised across families.
public struct ModelConfig: Sendable {
    public let family: ModelFamily
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    /// All experts of a layer, zero-computation ones included (MoE++'s E).
    public var numExperts: Int
    public private(set) var numFFNExperts: Int
    public var topK: Int
    /// Mixtral gating: top-k on logits then softmax over the chosen (no zero-weight rule).
    public var useMixtralGating: Bool
    public var twoLayerGate: Bool
    public var useLogitsNorm: Bool
    public var gateNormStd: Float
    /// MoE++ without `moe_feature_no_mul_topk`: the expert input is multiplied by k.
    public var multiplyInputByTopK: Bool
    /// Renormalise the chosen weights to sum to 1 (OLMoE's `norm_topk_prob`; always on for MoE++ and Mixtral).
    public var normalizeTopK: Bool
    /// RMSNorm on q and k before RoPE: OLMoE's over the whole projections, or with
    /// `queryKeyNormPerHead` Qwen3's over each head (one head_dim weight shared by all heads).
    public var queryKeyNorm: Bool
    public var queryKeyNormPerHead: Bool
    public var clipQKV: Float?
    /// Biases on the q, k and v projections (Qwen2-MoE).
    public var attentionBias: Bool
    /// The attention score scale; nil = 1/√head_dim (Granite's `attention_multiplier` replaces it).
    public var attentionScale: Float?
    /// Granite's multipliers: embeddings × `embeddingMultiplier`, each block's attention and
    /// feed-forward output × `residualMultiplier` before its residual add, logits ÷ `logitsScaling`.
    public var embeddingMultiplier: Float
    public var residualMultiplier: Float
    public var logitsScaling: Float

    /// Layers whose feed-forward is one dense SwiGLU FFN of width `denseIntermediateSize`, no router
    /// (Qwen's `mlp_only_layers` / `decoder_sparse_step`, DeepSeek's first dense layers).
    public var denseLayers: Set<Int>
    public var denseIntermediateSize: Int
    /// Shared experts of every MoE layer (added to every token), each `sharedIntermediateSize`
    /// wide; with `sharedExpertGate` each is scaled by sigmoid(w·x) (Qwen2-MoE).
    public var sharedExperts: Int
    public var sharedIntermediateSize: Int
    public var sharedExpertGate: Bool
    /// How router logits become weights beyond the softmax (DeepSeek, LongCat): sigmoid scores,
    /// choice on score + the layer's `e_score_correction_bias`, group-limited choice, and a factor
    /// on the final weights (`routed_scaling_factor`). See GatingRule.
    public var routerScores: GatingRule.Scores
    public var scoreCorrectionBias: Bool
    public var expertGroups: GatingRule.Groups?
    public var routedScalingFactor: Float
    /// Multi-head Latent Attention's dimensions (DeepSeek-V2/V3, LongCat); nil for q/k/v attention.
    public var latentAttention: LatentAttentionShape?
    /// YaRN rotary scaling (`rope_scaling.type == "yarn"`); nil for plain RoPE.
    public var yarn: YaRN?
    /// Which elements of a head RoPE rotates together: rotate-half (Hugging Face) unless the q/k
    /// rows were permuted for ggml's adjacent-pair mode (`llama`-architecture GGUF files).
    public var rotaryPairing: RotaryEmbedding.Pairing

    /// The kind of each router slot, as the family lays them out.
    public private(set) var expertKinds: [ExpertKind]
    /// MoE++'s gating residual: each layer's router adds G·(previous layer's logits).
    public var hasGatingResidual: Bool

    public var hasZeroComputationExperts: Bool { expertKinds.contains { !$0.isFFN } }
    /// Which expert categories this model has (what the toggles and legends should offer).
    public var expertCategories: Set<ExpertKind.Category> { Set(expertKinds.map(\.category)) }
    public func isDense(layer: Int) -> Bool { denseLayers.contains(layer) }
    /// Widths of the q and k norm weights: the whole projections, or one head.
    public var queryKeyNormWidth: (query: Int, key: Int) { queryKeyNormPerHead ? (headDim, headDim) : (queryDim, keyValueDim) }
    public var queryDim: Int { numHeads * headDim }
    public var keyValueDim: Int { numKeyValueHeads * headDim }
    /// Floats the KV cache keeps per token and layer: keys and values, or MLA's latent (the
    /// compressed kv and the shared rotary key) in the key table and no values.
    public var cacheWidths: (key: Int, value: Int) {
        if let mla = latentAttention { return (mla.latentCacheWidth, 0) }
        return (keyValueDim, keyValueDim)
    }

    public func kind(ofExpert index: Int) -> ExpertKind { expertKinds[index] }

    /// For a family whose slot kinds depend on more than the expert count (LongCat's
    /// `zero_expert_num` identity experts after its FFN experts).
    public mutating func setExpertKinds(_ kinds: [ExpertKind]) {
        precondition(kinds.count == numExperts, "one kind per router slot")
        expertKinds = kinds
        numFFNExperts = kinds.filter(\.isFFN).count
    }

    public var zeroExpertIndex: Int? { expertKinds.firstIndex(of: .zero) }

    public init(family: ModelFamily, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKeyValueHeads: Int, numExperts: Int, topK: Int = 2, ropeTheta: Float = 10_000,
                rmsNormEps: Float = 1e-5, maxPositionEmbeddings: Int = 2048) {
        self.family = family
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = hiddenSize / numHeads
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = false
        self.bosTokenId = nil
        self.eosTokenIds = []
        self.numExperts = numExperts
        expertKinds = family.architecture.expertKinds(experts: numExperts)
        numFFNExperts = expertKinds.filter(\.isFFN).count
        self.topK = topK
        self.useMixtralGating = true
        self.hasGatingResidual = false
        self.twoLayerGate = false
        self.useLogitsNorm = false
        self.gateNormStd = 1
        self.multiplyInputByTopK = false
        self.normalizeTopK = true
        self.queryKeyNorm = false
        self.queryKeyNormPerHead = false
        self.clipQKV = nil
        self.attentionBias = false
        self.attentionScale = nil
        self.embeddingMultiplier = 1
        self.residualMultiplier = 1
        self.logitsScaling = 1
        self.denseLayers = []
        self.denseIntermediateSize = intermediateSize
        self.sharedExperts = 0
        self.sharedIntermediateSize = 0
        self.sharedExpertGate = false
        self.rotaryPairing = .halves
        self.routerScores = .softmax
        self.scoreCorrectionBias = false
        self.expertGroups = nil
        self.routedScalingFactor = 1
        self.latentAttention = nil
        self.yarn = nil
        family.architecture.applyDefaults(to: &self)
    }
}

extension ModelConfig {
    /// Decodes `config.json`; `model_type` picks the family from `ArchitectureRegistry`.
    public static func load(path: String) throws -> ModelConfig {
        try decode(JSONFields(data: SmallFile.contents(path, maximumBytes: 16 << 20), file: path))
    }

    static func decode(_ json: JSONFields) throws -> ModelConfig {
        try ArchitectureRegistry.architecture(for: json).decodeConfig(json)
    }

    /// The LLaMA-style keys every family shares; `experts` and `topK` are the family's to read.
    /// `acceptsYaRN`: the family implements YaRN rotary scaling (read into `yarn`); other
    /// families refuse it like any other scaling type.
    public static func decodeCommon(_ json: JSONFields, family: ModelFamily, experts: Int, topK: Int, topKKey: String,
                                    acceptsYaRN: Bool = false, intermediateKey: String = "intermediate_size") throws -> ModelConfig {
        guard topK <= experts else { throw json.fail(topKKey, "top-k \(topK) exceeds the \(experts) experts") }
        let hidden = try json.int("hidden_size", maximum: 1 << 20)
        let heads = try json.int("num_attention_heads", maximum: 1 << 14)
        guard hidden % heads == 0 || json.has("head_dim") else {
            throw json.fail("num_attention_heads", "hidden_size \(hidden) is not divisible by \(heads) heads")
        }
        var config = ModelConfig(
            family: family, vocabSize: try json.int("vocab_size", maximum: 1 << 24), hiddenSize: hidden,
            intermediateSize: try json.int(intermediateKey, maximum: 1 << 22), numLayers: try json.int("num_hidden_layers", maximum: 4096),
            numHeads: heads, numKeyValueHeads: try json.int("num_key_value_heads", default: heads, maximum: heads),
            numExperts: experts, topK: topK, ropeTheta: Float(try ropeTheta(json, acceptsYaRN: acceptsYaRN)),
            rmsNormEps: Float(try json.double("rms_norm_eps", default: 1e-6)),
            maxPositionEmbeddings: try json.int("max_position_embeddings", default: 4096, maximum: 1 << 24))
        config.headDim = try json.int("head_dim", default: hidden / heads, maximum: 1 << 14)
        guard heads % config.numKeyValueHeads == 0 else {
            throw json.fail("num_key_value_heads", "\(config.numKeyValueHeads) does not divide \(heads) attention heads")
        }
        guard config.headDim % 2 == 0 else { throw json.fail("head_dim", "rotary embeddings need an even head size, found \(config.headDim)") }
        let activation = try json.string("hidden_act", default: "silu")
        guard activation == "silu" else { throw json.fail("hidden_act", "only \"silu\" is supported, found \"\(activation)\"") }
        config.tieWordEmbeddings = try json.bool("tie_word_embeddings", default: false)
        if acceptsYaRN { config.yarn = try yarn(json, maxPositionEmbeddings: config.maxPositionEmbeddings) }
        config.bosTokenId = try json.intList("bos_token_id")?.first
        config.eosTokenIds = try json.intList("eos_token_id") ?? []
        return config
    }

    /// θ of the rotary embedding. transformers < 5 writes a top-level `rope_theta` (and
    /// `rope_scaling`); transformers 5 writes `rope_parameters: {rope_theta, rope_type}`. Both are
    /// read; any scaling type other than plain RoPE is refused rather than run with the wrong θ.
    static func ropeTheta(_ json: JSONFields, acceptsYaRN: Bool = false) throws -> Double {
        for (key, typeKeys) in [("rope_scaling", ["rope_type", "type"]), ("rope_parameters", ["rope_type", "type"])] {
            guard let scaling = try json.nested(key) else { continue }
            var isYaRN = false
            for typeKey in typeKeys where scaling.has(typeKey) {
                let type = try scaling.string(typeKey)
                isYaRN = acceptsYaRN && type == "yarn"
                guard type == "default" || isYaRN else {
                    throw json.fail(key, "RoPE type \"\(type)\" is not implemented (moepp runs plain RoPE" + (acceptsYaRN ? " and yarn)" : " only)"))
                }
            }
            if key == "rope_scaling", scaling.has("factor"), !isYaRN {
                throw json.fail(key, "RoPE scaling is not implemented (expected null)")
            }
        }
        let nested = try json.nested("rope_parameters")
        if let nested, nested.has("rope_theta") {
            let theta = try nested.double("rope_theta")
            if json.has("rope_theta"), try json.double("rope_theta") != theta {
                throw json.fail("rope_theta", "\(try json.double("rope_theta")) disagrees with rope_parameters.rope_theta \(theta)")
            }
            return theta
        }
        return try json.double("rope_theta", default: 10_000)
    }

    /// The YaRN parameters of `rope_scaling` (transformers < 5) or `rope_parameters` (5), when
    /// their type is "yarn" (`ropeTheta` has refused every other type).
    static func yarn(_ json: JSONFields, maxPositionEmbeddings: Int) throws -> YaRN? {
        for key in ["rope_scaling", "rope_parameters"] {
            guard let scaling = try json.nested(key) else { continue }
            let type = try scaling.string("rope_type", default: try scaling.string("type", default: "default"))
            if type == "yarn" { return try YaRN.decode(scaling, maxPositionEmbeddings: maxPositionEmbeddings) }
        }
        return nil
    }
}
