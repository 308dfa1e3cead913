/// OLMoE as llama.cpp stores it (`olmoe`, its `OlmoeModel`): q/k RMSNorm over the whole
/// projection as `attn_{q,k}_norm`, `norm_topk_prob` as `expert_weights_norm`, `clip_qkv` as
/// `attention.clamp_kqv`; rotate-half RoPE, rows not permuted.
struct GGUFOLMoE: GGUFArchitecture {
    var name: String { "olmoe" }
    var family: ModelFamily { .olmoe }

    var keys: [GGUFKey] {
        [GGUFKey("num_experts", "expert_count") { GGUFKey.u32($0.numExperts) },
         GGUFKey("intermediate_size", "feed_forward_length") { GGUFKey.u32($0.intermediateSize) },
         GGUFKey("norm_topk_prob", "expert_weights_norm") { .bool($0.normalizeTopK) },
         GGUFKey("clip_qkv", "attention.clamp_kqv") { $0.clipQKV.map { .float32($0) } }]
    }
}
