/// DeepSeek-V2 (`model_type: "deepseek_v2"`, DeepSeek-V2-Lite / V2 / V2.5), read from
/// transformers 4.57's modeling_deepseek_v2.py:
/// - Multi-head Latent Attention (MultiHeadLatentAttention): `q_proj`, or `q_a_proj` →
///   `q_a_layernorm` → `q_b_proj` when `q_lora_rank` is set; `kv_a_proj_with_mqa` →
///   `kv_a_layernorm` → `kv_b_proj`; `o_proj`. RoPE on the rope part rotates adjacent pairs (the
///   reference multiplies complex numbers made of element pairs); YaRN when `rope_scaling` says so;
/// - the first `first_k_dense_replace` layers (and, in DeepSeek's own code, layers l with
///   l % `moe_layer_freq` ≠ 0) are one dense SwiGLU `mlp` of width `intermediate_size`;
/// - MoE layers: router `mlp.gate`, softmax over the experts, top-k (`greedy`), or top-k within
///   the `topk_group` groups of `n_group` with the largest max probability
///   (`group_limited_greedy`); weights = probabilities × `routed_scaling_factor`, not
///   renormalised; experts of width `moe_intermediate_size`; `n_shared_experts` shared experts
///   stored as one `mlp.shared_experts` FFN of width n·`moe_intermediate_size`, added to every token.
///
/// Where transformers 4.57.1 differs from DeepSeek's released code and the released models
/// depend on it, moepp follows DeepSeek: the softmax scale carries YaRN's m(s, mscale_all_dim)²
/// (DeepSeek-V2-Lite sets mscale_all_dim 0.707; transformers added it after 4.57, PR #47435, and
/// the fixture script applies that fix). `norm_topk_prob: true`, which 4.57.1 ignores and
/// DeepSeek's code honours, is refused: no released V2 sets it.
public struct DeepSeekV2Architecture: Architecture {
    public var family: ModelFamily { .deepseekV2 }
    public var modelTypes: [String] { ["deepseek_v2"] }
    public var transformersClass: String { "DeepseekV2ForCausalLM" }

    public func applyDefaults(to config: inout ModelConfig) {
        config.rotaryPairing = .adjacent
        config.normalizeTopK = false
    }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        var config = try Self.decodeDeepSeek(json, family: family)
        if try json.bool("norm_topk_prob", default: false) {
            throw json.fail("norm_topk_prob", "renormalised DeepSeek-V2 routing is not implemented (transformers 4.57 ignores it, DeepSeek's code honours it; expected false)")
        }
        let scoring = try json.string("scoring_func", default: "softmax")
        guard scoring == "softmax" else { throw json.fail("scoring_func", "DeepSeek-V2 scores experts by \"softmax\", found \"\(scoring)\"") }
        switch try json.string("topk_method", default: "greedy") {
        case "greedy": break
        case "group_limited_greedy": config.expertGroups = try Self.groups(json, experts: config.numExperts, score: .max)
        case let other: throw json.fail("topk_method", "expected \"greedy\" or \"group_limited_greedy\", found \"\(other)\"")
        }
        return config
    }

    /// The keys DeepSeek-V2 and V3 share: MLA, YaRN, experts and their widths, dense layers,
    /// shared experts and the routed scaling factor.
    static func decodeDeepSeek(_ json: JSONFields, family: ModelFamily) throws -> ModelConfig {
        var config = try ModelConfig.decodeCommon(json, family: family, experts: try json.int("n_routed_experts", maximum: 1 << 16),
                                                  topK: try json.int("num_experts_per_tok"), topKKey: "num_experts_per_tok", acceptsYaRN: true)
        for key in ["attention_bias", "mlp_bias"] where try json.bool(key, default: false) {
            throw json.fail(key, "biases are not implemented for \(family) (expected false)")
        }
        guard config.numKeyValueHeads == config.numHeads else {
            throw json.fail("num_key_value_heads", "MLA shares one latent among all heads; expected \(config.numHeads), found \(config.numKeyValueHeads)")
        }
        let shape = LatentAttentionShape(
            queryRank: json.has("q_lora_rank") ? try json.int("q_lora_rank", maximum: 1 << 16) : nil,
            kvRank: try json.int("kv_lora_rank", maximum: 1 << 16), nopeDim: try json.int("qk_nope_head_dim", maximum: 1 << 12),
            ropeDim: try json.int("qk_rope_head_dim", maximum: 1 << 12), valueDim: try json.int("v_head_dim", maximum: 1 << 12))
        guard shape.ropeDim % 2 == 0 else { throw json.fail("qk_rope_head_dim", "rotary embeddings need an even size, found \(shape.ropeDim)") }
        config.latentAttention = shape
        config.headDim = shape.queryKeyDim
        config.denseIntermediateSize = config.intermediateSize
        config.intermediateSize = try json.int("moe_intermediate_size", maximum: 1 << 22)
        let firstDense = try json.int("first_k_dense_replace", default: 0, minimum: 0)
        let frequency = try json.int("moe_layer_freq", default: 1)
        config.denseLayers = Set((0..<config.numLayers).filter { $0 < firstDense || $0 % frequency != 0 })
        let shared = try json.int("n_shared_experts", default: 0, minimum: 0, maximum: 1 << 10)
        config.sharedExperts = shared
        config.sharedIntermediateSize = shared > 0 ? config.intermediateSize : 0
        config.routedScalingFactor = Float(try json.double("routed_scaling_factor", default: 1))
        return config
    }

    /// `n_group` groups of equal size, `topk_group` of them chosen.
    static func groups(_ json: JSONFields, experts: Int, score: GatingRule.Groups.Score) throws -> GatingRule.Groups {
        let count = try json.int("n_group", maximum: experts)
        guard experts % count == 0 else { throw json.fail("n_group", "\(count) groups do not divide \(experts) experts") }
        return GatingRule.Groups(count: count, chosen: try json.int("topk_group", maximum: count), score: score)
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        Self.deepSeekFields(config) + [
            ("norm_topk_prob", "false"), ("scoring_func", "\"softmax\""),
            ("topk_method", config.expertGroups == nil ? "\"greedy\"" : "\"group_limited_greedy\""),
            ("n_group", config.expertGroups.map { "\($0.count)" } ?? "null"), ("topk_group", config.expertGroups.map { "\($0.chosen)" } ?? "null"),
        ]
    }

    static func deepSeekFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        let shape = config.latentAttention ?? LatentAttentionShape(queryRank: nil, kvRank: 0, nopeDim: 0, ropeDim: 0, valueDim: 0)
        let firstDense = (0..<config.numLayers).first { !config.isDense(layer: $0) } ?? config.numLayers
        return [("n_routed_experts", "\(config.numExperts)"), ("num_experts_per_tok", "\(config.topK)"),
                ("intermediate_size", "\(config.denseIntermediateSize)"), ("moe_intermediate_size", "\(config.intermediateSize)"),
                ("head_dim", "\(shape.ropeDim)"), ("q_lora_rank", shape.queryRank.map(String.init) ?? "null"),
                ("kv_lora_rank", "\(shape.kvRank)"), ("qk_nope_head_dim", "\(shape.nopeDim)"), ("qk_rope_head_dim", "\(shape.ropeDim)"),
                ("v_head_dim", "\(shape.valueDim)"), ("first_k_dense_replace", "\(firstDense)"), ("moe_layer_freq", "1"),
                ("n_shared_experts", "\(config.sharedExperts)"), ("routed_scaling_factor", "\(config.routedScalingFactor)"),
                ("attention_bias", "false")]
    }

    // MARK: Tensor names

    func mlp(_ l: Int) -> String { "model.layers.\(l).mlp." }
    public func routerName(layer l: Int) -> String { mlp(l) + "gate.weight" }
    public func scoreCorrectionBiasName(layer l: Int) -> String { mlp(l) + "gate.e_score_correction_bias" }
    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames { Qwen2MoEArchitecture.swiGLU(mlp(l) + "experts.\(e).") }
    public func denseNames(layer l: Int) -> ExpertTensorNames { Qwen2MoEArchitecture.swiGLU(mlp(l)) }
    public func sharedExpertNames(layer l: Int) -> ExpertTensorNames { Qwen2MoEArchitecture.swiGLU(mlp(l) + "shared_experts.") }

    /// MLA's tensors of layer `l` under `prefix` (DeepSeek's `self_attn.`), with their shapes.
    static func latentAttentionEntries(prefix: String, config: ModelConfig) -> [CheckpointLayout.Entry] {
        guard let shape = config.latentAttention else { return [] }
        let (d, heads) = (config.hiddenSize, config.numHeads)
        var entries: [CheckpointLayout.Entry] = []
        func add(_ name: String, _ shape: [Int], _ role: CheckpointLayout.Role = .attention) {
            entries.append(.init(name: prefix + name, shape: shape, role: role, expert: nil))
        }
        if let rank = shape.queryRank {
            add("q_a_proj.weight", [rank, d])
            add("q_a_layernorm.weight", [rank], .norm)
            add("q_b_proj.weight", [heads * shape.queryKeyDim, rank])
        } else {
            add("q_proj.weight", [heads * shape.queryKeyDim, d])
        }
        add("kv_a_proj_with_mqa.weight", [shape.latentCacheWidth, d])
        add("kv_a_layernorm.weight", [shape.kvRank], .norm)
        add("kv_b_proj.weight", [heads * (shape.nopeDim + shape.valueDim), shape.kvRank])
        add("o_proj.weight", [d, heads * shape.valueDim])
        return entries
    }

    static func loadLatentAttention(prefix: String, config: ModelConfig, weights: CheckpointWeights) throws -> MultiHeadLatentAttention {
        guard let shape = config.latentAttention else { throw CheckpointError(file: weights.configFile, "\(config.family) needs MLA dimensions") }
        let (d, heads) = (config.hiddenSize, config.numHeads)
        let queryDown = try shape.queryRank.map { try weights.matrix(prefix + "q_a_proj.weight", rows: $0, cols: d) }
        let queryNorm = try shape.queryRank.map { try weights.vector(prefix + "q_a_layernorm.weight", count: $0) }
        let queryUp = shape.queryRank == nil ? try weights.matrix(prefix + "q_proj.weight", rows: heads * shape.queryKeyDim, cols: d)
            : try weights.matrix(prefix + "q_b_proj.weight", rows: heads * shape.queryKeyDim, cols: shape.queryRank!)
        return MultiHeadLatentAttention(
            config: config, shape: shape, queryDown: queryDown, queryNorm: queryNorm, queryUp: queryUp,
            kvDown: try weights.matrix(prefix + "kv_a_proj_with_mqa.weight", rows: shape.latentCacheWidth, cols: d),
            kvNorm: try weights.vector(prefix + "kv_a_layernorm.weight", count: shape.kvRank),
            kvUp: try latentUpProjection(prefix: prefix, shape: shape, heads: heads, weights: weights),
            output: try weights.matrix(prefix + "o_proj.weight", rows: d, cols: heads * shape.valueDim))
    }

    /// kv_b_proj, or (from a `deepseek2` GGUF) the halves llama.cpp's converter splits it into,
    /// under the names it gives them on the way: `k_b_proj` (each head's key rows transposed, read
    /// as H·r_kv rows of d_nope) and `v_b_proj` (H·d_v rows of r_kv).
    static func latentUpProjection(prefix: String, shape: LatentAttentionShape, heads: Int, weights: CheckpointWeights) throws -> LatentUpProjection {
        guard weights.view(prefix + "kv_b_proj.weight") == nil, weights.view(prefix + splitKeyUpName) != nil else {
            return .joint(try weights.matrix(prefix + "kv_b_proj.weight", rows: heads * (shape.nopeDim + shape.valueDim), cols: shape.kvRank))
        }
        return .split(keysTransposed: try weights.matrix(prefix + splitKeyUpName, rows: heads * shape.kvRank, cols: shape.nopeDim),
                      values: try weights.matrix(prefix + splitValueUpName, rows: heads * shape.valueDim, cols: shape.kvRank))
    }

    static let splitKeyUpName = "k_b_proj.weight"
    static let splitValueUpName = "v_b_proj.weight"

    // MARK: Layout and loading

    public func attentionEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        Self.latentAttentionEntries(prefix: "model.layers.\(l).self_attn.", config: config)
    }

    public func buildAttention(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> any SelfAttention {
        try Self.loadLatentAttention(prefix: "model.layers.\(l).self_attn.", config: config, weights: weights)
    }

    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        if config.isDense(layer: l) {
            return ffnEntries(denseNames(layer: l), inner: config.denseIntermediateSize, config: config, role: .denseFFN, expert: nil)
        }
        var entries = [CheckpointLayout.Entry(name: routerName(layer: l), shape: [config.numExperts, config.hiddenSize], role: .router, expert: nil)]
        if config.scoreCorrectionBias {
            entries.append(.init(name: scoreCorrectionBiasName(layer: l), shape: [config.numExperts], role: .router, expert: nil))
        }
        entries += expertEntries(layer: l, config: config)
        if config.sharedExperts > 0 {
            entries += ffnEntries(sharedExpertNames(layer: l), inner: config.sharedExperts * config.sharedIntermediateSize, config: config,
                                  role: .sharedExpert, expert: nil)
        }
        return entries
    }

    public func buildFeedForward(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FeedForward {
        if config.isDense(layer: l) {
            return .dense(try loadFFN(denseNames(layer: l), inner: config.denseIntermediateSize, config: config, weights: weights))
        }
        let router = try linearRouter(layer: l, config: config, weights: weights, biasName: scoreCorrectionBiasName(layer: l))
        var shared: [SharedExpert] = []
        if config.sharedExperts > 0 {
            let ffn = try loadFFN(sharedExpertNames(layer: l), inner: config.sharedExperts * config.sharedIntermediateSize, config: config, weights: weights)
            shared.append(SharedExpert(ffn: ffn, gate: nil, count: config.sharedExperts))
        }
        return .moe(MoELayer(config: config, layerIndex: l, router: router,
                             ffnExperts: try loadFFNExperts(layer: l, config: config, weights: weights), constantExperts: [], shared: shared))
    }
}

extension ModelFamily {
    public static let deepseekV2 = ModelFamily(registered: "deepseek_v2")
}
