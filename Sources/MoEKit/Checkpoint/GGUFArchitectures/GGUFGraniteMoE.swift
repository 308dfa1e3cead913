import Foundation

/// Granite-MoE as llama.cpp stores it (`granitemoe`, its `GraniteMoeModel`, a `LlamaModel`): q/k
/// rows permuted for adjacent-pair RoPE; the multipliers under llama.cpp's names —
/// `attention_multiplier` → `attention.scale`, `embedding_multiplier` → `embedding_scale`,
/// `residual_multiplier` → `residual_scale`, `logits_scaling` → `logit_scale` (each written only
/// when non-zero, as the converter does); the router `block_sparse_moe.router.layer` as
/// `ffn_gate_inp`; `input_linear` [E, 2I, d] split into its gate and up halves
/// `ffn_gate_exps` / `ffn_up_exps` [E, I, d]; `output_linear` [E, d, I] as `ffn_down_exps`.
struct GGUFGraniteMoE: GGUFArchitecture {
    var name: String { "granitemoe" }
    var family: ModelFamily { .graniteMoE }
    var permutesQueryKey: Bool { true }

    var keys: [GGUFKey] {
        @Sendable func scale(_ v: Float) -> GGUFValue? { v == 0 ? nil : .float32(v) }
        return [GGUFKey("num_local_experts", "expert_count") { GGUFKey.u32($0.numExperts) },
                GGUFKey("intermediate_size", "feed_forward_length") { GGUFKey.u32($0.intermediateSize) },
                GGUFKey("attention_multiplier", "attention.scale") { scale($0.attentionScale ?? 1 / Float($0.headDim).squareRoot()) },
                GGUFKey("embedding_multiplier", "embedding_scale") { scale($0.embeddingMultiplier) },
                GGUFKey("residual_multiplier", "residual_scale") { scale($0.residualMultiplier) },
                GGUFKey("logits_scaling", "logit_scale") { scale($0.logitsScaling) }]
    }

    /// Without `attention.scale` llama.cpp scales scores by 1/√head_dim (transformers' default
    /// multiplier would be 1).
    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        guard object["attention_multiplier"] == nil else { return }
        let heads = try file.metadata.int("granitemoe.attention.head_count")
        let headDim = try (object["head_dim"] as? NSNumber)?.intValue ?? file.metadata.int("granitemoe.embedding_length") / max(heads, 1)
        object["attention_multiplier"] = NSNumber(value: 1 / Double(max(headDim, 1)).squareRoot())
    }

    func blockTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] {
        let granite = GraniteMoEArchitecture(), b = "blk.\(l).", input = granite.inputLinearName(layer: l)
        let (d, inner, experts) = (c.hiddenSize, c.intermediateSize, c.numFFNExperts)
        return GGUFTensor.attention(layer: l, config: c, permuted: true) + [
            GGUFTensor(b + "ffn_gate_inp.weight", [c.numExperts, d], .tensor(granite.routerName(layer: l)), keepF32: true, layer: l),
            GGUFTensor(b + "ffn_gate_exps.weight", [experts, inner, d],
                       .halves(of: input, half: 0, readAs: granite.inputLinearHalfName(layer: l, half: 0)), layer: l),
            GGUFTensor(b + "ffn_up_exps.weight", [experts, inner, d],
                       .halves(of: input, half: 1, readAs: granite.inputLinearHalfName(layer: l, half: 1)), layer: l),
            GGUFTensor(b + "ffn_down_exps.weight", [experts, d, inner], .tensor(granite.outputLinearName(layer: l)), layer: l),
        ]
    }
}
