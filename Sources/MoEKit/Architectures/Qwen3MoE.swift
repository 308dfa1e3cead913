/// Qwen3-MoE (`model_type: "qwen3_moe"`, Qwen3-30B-A3B), read from transformers 4.57's
/// modeling_qwen3_moe.py: Qwen2-MoE's block without biases and without a shared expert, plus an
/// RMSNorm on q and k over each head (`self_attn.q_norm` / `k_norm`, one head_dim weight shared
/// by all heads) before RoPE; `head_dim` may differ from hidden / heads; softmax → top-k,
/// renormalised with `norm_topk_prob` (true in the released models); dense layers as in Qwen2-MoE.
public struct Qwen3MoEArchitecture: Architecture {
    public var family: ModelFamily { .qwen3MoE }
    public var modelTypes: [String] { ["qwen3_moe"] }
    public var transformersClass: String { "Qwen3MoeForCausalLM" }
    let qwen2 = Qwen2MoEArchitecture()

    public func applyDefaults(to config: inout ModelConfig) {
        config.queryKeyNorm = true
        config.queryKeyNormPerHead = true
    }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        // attention_bias would add an o_proj bias too, which no released Qwen3-MoE has.
        if try json.bool("attention_bias", default: false) {
            throw json.fail("attention_bias", "attention biases are not implemented for qwen3_moe (expected false)")
        }
        return try Qwen2MoEArchitecture.decodeQwenMoE(json, family: family, defaultTopK: 8)
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        Qwen2MoEArchitecture.qwenFields(config) + [("attention_bias", "false")]
    }

    public func routerName(layer l: Int) -> String { qwen2.routerName(layer: l) }
    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames { qwen2.expertNames(layer: l, expert: e) }

    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        qwen2.feedForwardEntries(layer: l, config: config)
    }

    public func buildFeedForward(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FeedForward {
        try qwen2.buildFeedForward(layer: l, config: config, weights: weights)
    }
}

extension ModelFamily {
    public static let qwen3MoE = ModelFamily(registered: "qwen3_moe")
}
