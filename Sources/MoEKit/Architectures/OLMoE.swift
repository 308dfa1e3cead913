/// OLMoE (`model_type: "olmoe"`): a linear router `mlp.gate` over 64 SwiGLU experts, top-8,
/// weights renormalised only with `norm_topk_prob`; attention adds an RMSNorm over the whole q
/// and k projections (`self_attn.q_norm` / `k_norm`, width heads × head_dim) and optional
/// `clip_qkv` clamping of q, k and v.
public struct OLMoEArchitecture: Architecture {
    public var family: ModelFamily { .olmoe }
    public var modelTypes: [String] { ["olmoe"] }
    public var transformersClass: String { "OlmoeForCausalLM" }

    public func applyDefaults(to config: inout ModelConfig) {
        config.queryKeyNorm = true
    }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        var config = try ModelConfig.decodeCommon(json, family: family, experts: try json.int("num_experts", maximum: 1 << 16),
                                                  topK: try json.int("num_experts_per_tok", default: 8), topKKey: "num_experts_per_tok")
        config.normalizeTopK = try json.bool("norm_topk_prob", default: false)
        if json.has("clip_qkv") { config.clipQKV = Float(try json.double("clip_qkv")) }
        return config
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        [("num_experts", "\(config.numExperts)"), ("num_experts_per_tok", "\(config.topK)"),
         ("norm_topk_prob", "\(config.normalizeTopK)"), ("clip_qkv", config.clipQKV.map { "\($0)" } ?? "null")]
    }

    public func routerName(layer l: Int) -> String { "model.layers.\(l).mlp.gate.weight" }

    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames {
        let prefix = "model.layers.\(l).mlp.experts.\(e)."
        return ExpertTensorNames(gateUp: .separate(gate: prefix + "gate_proj.weight", up: prefix + "up_proj.weight"),
                                 down: prefix + "down_proj.weight")
    }
}

extension ModelFamily {
    public static let olmoe = ModelFamily(registered: "olmoe")
}
