/// Mixtral (`model_type: "mixtral"`): a LLaMA block whose MLP is `block_sparse_moe` — a linear
/// router over `num_local_experts` SwiGLU experts (w1 = gate, w3 = up, w2 = down), top-k on the
/// logits then a softmax over the k (equal to renormalising the chosen probabilities).
public struct MixtralArchitecture: Architecture {
    public var family: ModelFamily { .mixtral }
    public var modelTypes: [String] { ["mixtral"] }
    public var transformersClass: String { "MixtralForCausalLM" }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        try ModelConfig.decodeCommon(json, family: family, experts: try json.int("num_local_experts", maximum: 1 << 16),
                                     topK: try json.int("num_experts_per_tok", default: 2), topKKey: "num_experts_per_tok")
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        [("num_local_experts", "\(config.numExperts)"), ("num_experts_per_tok", "\(config.topK)"),
         ("sliding_window", "null"), ("router_aux_loss_coef", "0.01")]
    }

    public func routerName(layer l: Int) -> String { "model.layers.\(l).block_sparse_moe.gate.weight" }

    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames {
        let prefix = "model.layers.\(l).block_sparse_moe.experts.\(e)."
        return ExpertTensorNames(gateUp: .separate(gate: prefix + "w1.weight", up: prefix + "w3.weight"), down: prefix + "w2.weight")
    }
}

extension ModelFamily {
    public static let mixtral = ModelFamily(registered: "mixtral")
}
