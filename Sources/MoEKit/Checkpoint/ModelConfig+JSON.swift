import Foundation

extension ModelConfig {
    /// `config.json` in the family's own keys (the official MoE++ keys, or Mixtral's), so that the
    /// reference implementations would load what we write.
    public func jsonText() -> String {
        var fields: [(String, String)] = [
            ("vocab_size", "\(vocabSize)"), ("hidden_size", "\(hiddenSize)"), ("intermediate_size", "\(intermediateSize)"),
            ("num_hidden_layers", "\(numLayers)"), ("num_attention_heads", "\(numHeads)"),
            ("num_key_value_heads", "\(numKeyValueHeads)"), ("head_dim", "\(headDim)"), ("hidden_act", "\"silu\""),
            ("max_position_embeddings", "\(maxPositionEmbeddings)"), ("rms_norm_eps", "\(rmsNormEps)"),
            ("rope_theta", "\(ropeTheta)"), ("rope_scaling", "null"), ("tie_word_embeddings", "\(tieWordEmbeddings)"),
            ("bos_token_id", bosTokenId.map(String.init) ?? "null"),
            ("eos_token_id", eosTokenIds.count == 1 ? "\(eosTokenIds[0])" : "[\(eosTokenIds.map(String.init).joined(separator: ","))]"),
            ("torch_dtype", "\"float32\""),
        ]
        switch family {
        case .moepp:
            fields = [("model_type", "\"moe++\""), ("architectures", "[\"MoEPlusPlusForCausalLM\"]")] + fields + [
                ("num_experts", "[\(numExperts)]"), ("moe_topk", "\(topK)"), ("moe_expert_interval", "1"),
                ("moe_use_mixtral_gating", "\(useMixtralGating)"), ("moe_2layer_gate", "\(twoLayerGate)"),
                ("moe_use_logits_norm", "\(useLogitsNorm)"), ("moe_gate_norm_std", "\(gateNormStd)"),
                ("moe_feature_no_mul_topk", "\(!multiplyInputByTopK)"),
            ]
        case .mixtral:
            fields = [("model_type", "\"mixtral\""), ("architectures", "[\"MixtralForCausalLM\"]")] + fields + [
                ("num_local_experts", "\(numExperts)"), ("num_experts_per_tok", "\(topK)"), ("sliding_window", "null"),
                ("router_aux_loss_coef", "0.01"),
            ]
        case .olmoe:
            fields = [("model_type", "\"olmoe\""), ("architectures", "[\"OlmoeForCausalLM\"]")] + fields + [
                ("num_experts", "\(numExperts)"), ("num_experts_per_tok", "\(topK)"), ("norm_topk_prob", "\(normalizeTopK)"),
                ("clip_qkv", clipQKV.map { "\($0)" } ?? "null"),
            ]
        }
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    public func write(to path: String) throws {
        try AtomicFile.write(Data(jsonText().utf8), to: path)
    }
}
