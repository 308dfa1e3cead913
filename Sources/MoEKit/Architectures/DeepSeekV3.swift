/// DeepSeek-V3 (`model_type: "deepseek_v3"`, DeepSeek-V3 / R1, Moonlight-16B-A3B), read from
/// transformers 4.57's modeling_deepseek_v3.py: DeepSeek-V2's MLA, dense first layers, shared
/// experts and tensor names (DeepSeekV2Architecture), with
/// - the router `mlp.gate`: sigmoid scores s; the choice on c = s + `mlp.gate.e_score_correction_bias`
///   (a buffer the checkpoint stores), top-k within the `topk_group` of `n_group` groups whose
///   top-2 c sum highest (`noaux_tc`); weights are s (not c), renormalised with `norm_topk_prob`,
///   then × `routed_scaling_factor`;
/// - RoPE on adjacent pairs when `rope_interleave` (the default), else rotate-half;
/// - the softmax scale × YaRN's m(s, mscale_all_dim)², as 4.57.1 has it.
public struct DeepSeekV3Architecture: Architecture {
    public var family: ModelFamily { .deepseekV3 }
    public var modelTypes: [String] { ["deepseek_v3"] }
    public var transformersClass: String { "DeepseekV3ForCausalLM" }
    let v2 = DeepSeekV2Architecture()

    public func applyDefaults(to config: inout ModelConfig) {
        config.rotaryPairing = .adjacent
        config.routerScores = .sigmoid
        config.scoreCorrectionBias = true
    }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        var config = try DeepSeekV2Architecture.decodeDeepSeek(json, family: family)
        for (key, expected) in [("scoring_func", "sigmoid"), ("topk_method", "noaux_tc")] where json.has(key) {
            let found = try json.string(key)
            guard found == expected else { throw json.fail(key, "DeepSeek-V3 routing expects \"\(expected)\", found \"\(found)\"") }
        }
        config.rotaryPairing = try json.bool("rope_interleave", default: true) ? .adjacent : .halves
        config.normalizeTopK = try json.bool("norm_topk_prob", default: true)
        config.expertGroups = try DeepSeekV2Architecture.groups(json, experts: config.numExperts, score: .sumOfTopTwo)
        guard config.topK <= config.numExperts / config.expertGroups!.count * config.expertGroups!.chosen else {
            throw json.fail("num_experts_per_tok", "top-\(config.topK) exceeds the experts of \(config.expertGroups!.chosen) groups")
        }
        return config
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        DeepSeekV2Architecture.deepSeekFields(config) + [
            ("norm_topk_prob", "\(config.normalizeTopK)"), ("scoring_func", "\"sigmoid\""), ("topk_method", "\"noaux_tc\""),
            ("n_group", "\(config.expertGroups?.count ?? 1)"), ("topk_group", "\(config.expertGroups?.chosen ?? 1)"),
            ("rope_interleave", "\(config.rotaryPairing == .adjacent)"),
        ]
    }

    public func routerName(layer l: Int) -> String { v2.routerName(layer: l) }
    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames { v2.expertNames(layer: l, expert: e) }

    public func attentionEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] { v2.attentionEntries(layer: l, config: config) }

    public func buildAttention(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> any SelfAttention {
        try v2.buildAttention(layer: l, config: config, weights: weights)
    }

    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] { v2.feedForwardEntries(layer: l, config: config) }

    public func buildFeedForward(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FeedForward {
        try v2.buildFeedForward(layer: l, config: config, weights: weights)
    }
}

extension ModelFamily {
    public static let deepseekV3 = ModelFamily(registered: "deepseek_v3")
}
