/// Qwen2-MoE (`model_type: "qwen2_moe"`, Qwen1.5-MoE-A2.7B), read from transformers 4.57's
/// modeling_qwen2_moe.py:
/// - attention with q/k/v biases (`qkv_bias`, on by default; o_proj has none);
/// - a MoE layer `mlp`: router `mlp.gate`, softmax over all experts → top-k of the probabilities,
///   renormalised only with `norm_topk_prob` (false by default); experts of width
///   `moe_intermediate_size`; plus one shared expert `mlp.shared_expert` (width
///   `shared_expert_intermediate_size`) added to every token, scaled by
///   sigmoid(`mlp.shared_expert_gate` · x);
/// - dense layers: layer l is one SwiGLU `mlp` of width `intermediate_size` when l is in
///   `mlp_only_layers` or (l+1) is not a multiple of `decoder_sparse_step`.
public struct Qwen2MoEArchitecture: Architecture {
    public var family: ModelFamily { .qwen2MoE }
    public var modelTypes: [String] { ["qwen2_moe"] }
    public var transformersClass: String { "Qwen2MoeForCausalLM" }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        var config = try Self.decodeQwenMoE(json, family: family, defaultTopK: 4)
        config.attentionBias = try json.bool("qkv_bias", default: true)
        // transformers' default when the key is absent; 0 (an empty shared expert adds nothing) means none.
        let shared = try json.int("shared_expert_intermediate_size", default: 5632, minimum: 0, maximum: 1 << 22)
        config.sharedExperts = shared > 0 ? 1 : 0
        config.sharedIntermediateSize = shared
        config.sharedExpertGate = shared > 0
        return config
    }

    /// The keys Qwen2-MoE and Qwen3-MoE share: experts, top-k, `norm_topk_prob`, expert width
    /// `moe_intermediate_size` (the common `intermediate_size` is the dense layers' width), which
    /// layers are dense, and no sliding window.
    static func decodeQwenMoE(_ json: JSONFields, family: ModelFamily, defaultTopK: Int) throws -> ModelConfig {
        var config = try ModelConfig.decodeCommon(json, family: family, experts: try json.int("num_experts", maximum: 1 << 16),
                                                  topK: try json.int("num_experts_per_tok", default: defaultTopK), topKKey: "num_experts_per_tok")
        config.denseIntermediateSize = config.intermediateSize
        config.intermediateSize = try json.int("moe_intermediate_size", maximum: 1 << 22)
        config.normalizeTopK = try json.bool("norm_topk_prob", default: false)
        let step = try json.int("decoder_sparse_step", default: 1)
        let mlpOnly = try json.intList("mlp_only_layers") ?? []
        if let outside = mlpOnly.first(where: { $0 >= config.numLayers }) {
            throw json.fail("mlp_only_layers", "layer \(outside) does not exist (\(config.numLayers) layers)")
        }
        config.denseLayers = Set((0..<config.numLayers).filter { mlpOnly.contains($0) || ($0 + 1) % step != 0 })
        if try json.bool("use_sliding_window", default: false) {
            throw json.fail("use_sliding_window", "sliding-window attention is not implemented (expected false)")
        }
        return config
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        Self.qwenFields(config) + [("qkv_bias", "\(config.attentionBias)"),
                                   ("shared_expert_intermediate_size", "\(config.sharedIntermediateSize)")]
    }

    static func qwenFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        [("num_experts", "\(config.numExperts)"), ("num_experts_per_tok", "\(config.topK)"),
         ("norm_topk_prob", "\(config.normalizeTopK)"), ("intermediate_size", "\(config.denseIntermediateSize)"),
         ("moe_intermediate_size", "\(config.intermediateSize)"), ("decoder_sparse_step", "1"),
         ("mlp_only_layers", "[\(config.denseLayers.sorted().map(String.init).joined(separator: ","))]"),
         ("use_sliding_window", "false")]
    }

    // MARK: Tensor names

    func mlp(_ l: Int) -> String { "model.layers.\(l).mlp." }
    public func routerName(layer l: Int) -> String { mlp(l) + "gate.weight" }

    static func swiGLU(_ prefix: String) -> ExpertTensorNames {
        ExpertTensorNames(gateUp: .separate(gate: prefix + "gate_proj.weight", up: prefix + "up_proj.weight"), down: prefix + "down_proj.weight")
    }

    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames { Self.swiGLU(mlp(l) + "experts.\(e).") }
    /// A dense layer's MLP.
    public func denseNames(layer l: Int) -> ExpertTensorNames { Self.swiGLU(mlp(l)) }
    public func sharedExpertNames(layer l: Int) -> ExpertTensorNames { Self.swiGLU(mlp(l) + "shared_expert.") }
    public func sharedExpertGateName(layer l: Int) -> String { mlp(l) + "shared_expert_gate.weight" }

    // MARK: Layout and loading

    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        if config.isDense(layer: l) {
            return ffnEntries(denseNames(layer: l), inner: config.denseIntermediateSize, config: config, role: .denseFFN, expert: nil)
        }
        var entries = [CheckpointLayout.Entry(name: routerName(layer: l), shape: [config.numExperts, config.hiddenSize], role: .router, expert: nil)]
        for e in 0..<config.numFFNExperts {
            entries += ffnEntries(expertNames(layer: l, expert: e), inner: config.intermediateSize, config: config, role: .ffnExpert, expert: e)
        }
        if config.sharedExperts > 0 {
            entries += ffnEntries(sharedExpertNames(layer: l), inner: config.sharedIntermediateSize, config: config, role: .sharedExpert, expert: nil)
            if config.sharedExpertGate {
                entries.append(.init(name: sharedExpertGateName(layer: l), shape: [1, config.hiddenSize], role: .router, expert: nil))
            }
        }
        return entries
    }

    public func buildFeedForward(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FeedForward {
        if config.isDense(layer: l) {
            return .dense(try loadFFN(denseNames(layer: l), inner: config.denseIntermediateSize, config: config, weights: weights))
        }
        let router = try linearRouter(layer: l, config: config, weights: weights)
        var shared: [SharedExpert] = []
        if config.sharedExperts > 0 {
            let ffn = try loadFFN(sharedExpertNames(layer: l), inner: config.sharedIntermediateSize, config: config, weights: weights)
            let gate = config.sharedExpertGate ? try weights.matrix(sharedExpertGateName(layer: l), rows: 1, cols: config.hiddenSize) : nil
            shared.append(SharedExpert(ffn: ffn, gate: gate))
        }
        return .moe(MoELayer(config: config, layerIndex: l, router: router,
                             ffnExperts: try loadFFNExperts(layer: l, config: config, weights: weights), constantExperts: [], shared: shared))
    }
}

extension ModelFamily {
    public static let qwen2MoE = ModelFamily(registered: "qwen2_moe")
}
