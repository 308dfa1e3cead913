import Foundation

/// LongCat-Flash (`model_type: "longcat_flash"`), read from transformers 4.57's
/// modeling_longcat_flash.py. Each checkpoint layer `model.layers.N` is two sublayers, which
/// moepp runs as two blocks (and two KV-cache layers, as the reference numbers them 2N, 2N+1):
///   h₁ = x + MLA₀(norm_in₀(x));   u = norm_post₀(h₁)
///   h₂ = h₁ + FFN₀(u);   m = MoE(u)                       (the "shortcut" MoE, from the same u)
///   h₃ = h₂ + MLA₁(norm_in₁(h₂));   out = h₃ + FFN₁(norm_post₁(h₃)) + m
/// - MLA as DeepSeek-V3's (q always through `q_lora_rank`, RoPE on adjacent pairs), with q × √(d/r_q)
///   and the normalised kv latent × √(d/r_kv);
/// - the MoE: `n_routed_experts` FFN experts (width `expert_ffn_hidden_size`) followed by
///   `zero_expert_num` identity experts (E(x) = x, so a chosen one adds w·x; kind `.copy`) in one
///   router `mlp.router.classifier`: softmax over all of them, choice on softmax +
///   `mlp.router.e_score_correction_bias`, weights = softmax × `routed_scaling_factor`, not renormalised;
/// - the dense FFNs `mlps.0` / `mlps.1` have width `ffn_hidden_size`; the first is recorded as the
///   always-on `shared(0)` of the routing record, the second block as a dense layer.
public struct LongCatFlashArchitecture: Architecture {
    public var family: ModelFamily { .longcatFlash }
    public var modelTypes: [String] { ["longcat_flash"] }
    public var transformersClass: String { "LongcatFlashForCausalLM" }
    public var sublayersPerLayer: Int { 2 }

    public func applyDefaults(to config: inout ModelConfig) {
        config.rotaryPairing = .adjacent
        config.normalizeTopK = false
        config.scoreCorrectionBias = true
        config.denseLayers = Set((0..<config.numLayers).filter { $0 % 2 == 1 })
    }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        let ffnExperts = try json.int("n_routed_experts", maximum: 1 << 16)
        let identityExperts = try json.int("zero_expert_num", default: 0, minimum: 0, maximum: 1 << 16)
        var config = try ModelConfig.decodeCommon(json, family: family, experts: ffnExperts + identityExperts,
                                                  topK: try json.int("moe_topk"), topKKey: "moe_topk", acceptsYaRN: true,
                                                  intermediateKey: "expert_ffn_hidden_size")
        let layers = try json.int("num_layers", maximum: 2048)
        guard config.numLayers == 2 * layers else {
            throw json.fail("num_hidden_layers", "expected 2 × num_layers = \(2 * layers) sublayers, found \(config.numLayers)")
        }
        config.setExpertKinds((0..<ffnExperts).map { .ffn($0) } + Array(repeating: .copy, count: identityExperts))
        config.denseLayers = Set((0..<config.numLayers).filter { $0 % 2 == 1 })
        for key in ["attention_bias", "router_bias"] where try json.bool(key, default: false) {
            throw json.fail(key, "biases are not implemented for longcat_flash (expected false)")
        }
        guard config.numKeyValueHeads == config.numHeads else {
            throw json.fail("num_key_value_heads", "MLA shares one latent among all heads; expected \(config.numHeads), found \(config.numKeyValueHeads)")
        }
        let d = Double(config.hiddenSize)
        let queryRank = try json.int("q_lora_rank", maximum: 1 << 16), kvRank = try json.int("kv_lora_rank", maximum: 1 << 16)
        let shape = LatentAttentionShape(
            queryRank: queryRank, kvRank: kvRank, nopeDim: try json.int("qk_nope_head_dim", maximum: 1 << 12),
            ropeDim: try json.int("qk_rope_head_dim", maximum: 1 << 12), valueDim: try json.int("v_head_dim", maximum: 1 << 12),
            loraScales: (Float((d / Double(queryRank)).squareRoot()), Float((d / Double(kvRank)).squareRoot())))
        guard shape.ropeDim % 2 == 0 else { throw json.fail("qk_rope_head_dim", "rotary embeddings need an even size, found \(shape.ropeDim)") }
        config.latentAttention = shape
        config.headDim = shape.queryKeyDim
        config.denseIntermediateSize = try json.int("ffn_hidden_size", maximum: 1 << 22)
        config.routedScalingFactor = Float(try json.double("routed_scaling_factor", default: 1))
        return config
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        let shape = config.latentAttention ?? LatentAttentionShape(queryRank: 0, kvRank: 0, nopeDim: 0, ropeDim: 0, valueDim: 0)
        return [("n_routed_experts", "\(config.numFFNExperts)"), ("zero_expert_num", "\(config.numExperts - config.numFFNExperts)"),
                ("moe_topk", "\(config.topK)"), ("expert_ffn_hidden_size", "\(config.intermediateSize)"),
                ("ffn_hidden_size", "\(config.denseIntermediateSize)"), ("num_layers", "\(config.numLayers / 2)"),
                ("head_dim", "\(shape.ropeDim)"), ("q_lora_rank", "\(shape.queryRank ?? 0)"), ("kv_lora_rank", "\(shape.kvRank)"),
                ("qk_nope_head_dim", "\(shape.nopeDim)"), ("qk_rope_head_dim", "\(shape.ropeDim)"), ("v_head_dim", "\(shape.valueDim)"),
                ("routed_scaling_factor", "\(config.routedScalingFactor)"), ("attention_bias", "false"), ("router_bias", "false")]
    }

    // MARK: Tensor names (block l is sublayer l % 2 of checkpoint layer l / 2)

    func layer(_ l: Int) -> String { "model.layers.\(l / 2)." }
    public func normNames(layer l: Int) -> (input: String, postAttention: String) {
        (layer(l) + "input_layernorm.\(l % 2).weight", layer(l) + "post_attention_layernorm.\(l % 2).weight")
    }
    public func routerName(layer l: Int) -> String { layer(l) + "mlp.router.classifier.weight" }
    public func scoreCorrectionBiasName(layer l: Int) -> String { layer(l) + "mlp.router.e_score_correction_bias" }
    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames { Qwen2MoEArchitecture.swiGLU(layer(l) + "mlp.experts.\(e).") }
    public func denseNames(layer l: Int) -> ExpertTensorNames { Qwen2MoEArchitecture.swiGLU(layer(l) + "mlps.\(l % 2).") }
    func attentionPrefix(_ l: Int) -> String { layer(l) + "self_attn.\(l % 2)." }

    // MARK: Layout and loading

    public func attentionEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        DeepSeekV2Architecture.latentAttentionEntries(prefix: attentionPrefix(l), config: config)
    }

    public func buildAttention(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> any SelfAttention {
        try DeepSeekV2Architecture.loadLatentAttention(prefix: attentionPrefix(l), config: config, weights: weights)
    }

    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        var entries = ffnEntries(denseNames(layer: l), inner: config.denseIntermediateSize, config: config, role: .denseFFN, expert: nil)
        guard l % 2 == 0 else { return entries }
        entries.append(.init(name: routerName(layer: l), shape: [config.numExperts, config.hiddenSize], role: .router, expert: nil))
        entries.append(.init(name: scoreCorrectionBiasName(layer: l), shape: [config.numExperts], role: .router, expert: nil))
        return entries + expertEntries(layer: l, config: config)
    }

    public func buildFeedForward(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FeedForward {
        let dense = try loadFFN(denseNames(layer: l), inner: config.denseIntermediateSize, config: config, weights: weights)
        guard l % 2 == 0 else { return .dense(dense) }
        let router = try linearRouter(layer: l, config: config, weights: weights, biasName: scoreCorrectionBiasName(layer: l))
        let moe = MoELayer(config: config, layerIndex: l, router: router,
                           ffnExperts: try loadFFNExperts(layer: l, config: config, weights: weights), constantExperts: [])
        return .denseWithShortcut(dense, moe)
    }
}

extension ModelFamily {
    public static let longcatFlash = ModelFamily(registered: "longcat_flash")
}
