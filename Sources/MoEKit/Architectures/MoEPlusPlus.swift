/// MoE++ (moepp-spec): E router slots per layer — E−4 SwiGLU FFN experts (gate and up fused in one
/// `up_proj`), then two constant experts, a copy expert and a zero expert; a gating residual
/// adds G·(previous layer's logits) to each router's logits; optional logits norm and a two-layer
/// router. The official release spells `model_type` in several ways, so a MoE-named type with
/// MoE++'s `moe_*` keys is read as this family too.
public struct MoEPlusPlusArchitecture: Architecture {
    public var family: ModelFamily { .moepp }
    public var modelTypes: [String] { ["moe++", "moepp", "moe_plus_plus", "llama_moe_plus_plus"] }
    public var transformersClass: String { "MoEPlusPlusForCausalLM" }

    public func claimsUnlisted(modelType: String, json: JSONFields) -> Bool {
        modelType.lowercased().contains("moe") && (json.has("moe_expert_interval") || json.has("moe_use_logits_norm"))
    }

    public func applyDefaults(to config: inout ModelConfig) {
        config.useMixtralGating = false
        config.hasGatingResidual = true
    }

    /// Slots E−4 and E−3 are constants, E−2 copy, E−1 zero.
    public func expertKinds(experts: Int) -> [ExpertKind] {
        (0..<experts).map { index in
            switch index {
            case ..<(experts - 4): return .ffn(index)
            case experts - 4: return .constant(0)
            case experts - 3: return .constant(1)
            case experts - 2: return .copy
            default: return .zero
            }
        }
    }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        guard let list = try json.intList("num_experts", minimum: 5), let experts = list.first, list.allSatisfy({ $0 == experts }),
              experts <= 1 << 16 else {
            throw json.fail("num_experts", "expected [E] with E ≥ 5 (E−4 FFN experts + 2 constant + copy + zero)")
        }
        let topK = try json.int("moe_topk", default: try json.int("num_experts_per_tok", default: 2))
        let interval = try json.int("moe_expert_interval", default: 1)
        guard interval == 1 else { throw json.fail("moe_expert_interval", "only 1 (every layer MoE) is supported, found \(interval)") }
        var config = try ModelConfig.decodeCommon(json, family: family, experts: experts, topK: topK, topKKey: "moe_topk")
        config.useMixtralGating = try json.bool("moe_use_mixtral_gating", default: false)
        config.twoLayerGate = try json.bool("moe_2layer_gate", default: false)
        config.useLogitsNorm = try json.bool("moe_use_logits_norm", default: false)
        config.gateNormStd = Float(try json.double("moe_gate_norm_std", default: 1))
        config.multiplyInputByTopK = !(try json.bool("moe_feature_no_mul_topk", default: false)) && !config.useMixtralGating
        return config
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        [("num_experts", "[\(config.numExperts)]"), ("moe_topk", "\(config.topK)"), ("moe_expert_interval", "1"),
         ("moe_use_mixtral_gating", "\(config.useMixtralGating)"), ("moe_2layer_gate", "\(config.twoLayerGate)"),
         ("moe_use_logits_norm", "\(config.useLogitsNorm)"), ("moe_gate_norm_std", "\(config.gateNormStd)"),
         ("moe_feature_no_mul_topk", "\(!config.multiplyInputByTopK)")]
    }

    // MARK: Tensor names (moepp-spec "Tensor names")

    func moe(_ l: Int) -> String { "model.layers.\(l).mlp.moe." }
    public func routerName(layer l: Int) -> String { moe(l) + "gate.wg.weight" }
    /// The two-layer router's stages 0 (8E×d) and 2 (E×8E).
    public func twoLayerRouterName(layer l: Int, stage: Int) -> String { moe(l) + "gate.wg.\(stage).weight" }
    public func gatingResidualName(layer l: Int) -> String { moe(l) + "gate.gate_map.weight" }
    func expert(_ l: Int, _ e: Int) -> String { moe(l) + "experts.experts.\(e)." }

    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames {
        ExpertTensorNames(gateUp: .fused(expert(l, e) + "up_proj.weight"), down: expert(l, e) + "down_proj.weight")
    }

    /// Constant expert at slot e (E−4 or E−3): its vector v and its 2×d mixing weights W_c.
    public func constantVectorName(layer l: Int, expert e: Int) -> String { expert(l, e) + "constant" }
    public func constantMixingName(layer l: Int, expert e: Int) -> String { expert(l, e) + "wg.weight" }

    var constantSlots: (Int) -> [Int] { { experts in [experts - 4, experts - 3] } }

    // MARK: Layout and loading

    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        let (d, experts) = (config.hiddenSize, config.numExperts)
        var entries: [CheckpointLayout.Entry] = []
        if config.twoLayerGate {
            entries.append(.init(name: twoLayerRouterName(layer: l, stage: 0), shape: [8 * experts, d], role: .router, expert: nil))
            entries.append(.init(name: twoLayerRouterName(layer: l, stage: 2), shape: [experts, 8 * experts], role: .router, expert: nil))
        } else {
            entries.append(.init(name: routerName(layer: l), shape: [experts, d], role: .router, expert: nil))
        }
        // Present in every layer as in the release; the first layer's is unused.
        entries.append(.init(name: gatingResidualName(layer: l), shape: [experts, experts], role: .gatingResidual, expert: nil))
        entries += expertEntries(layer: l, config: config)
        for e in constantSlots(experts) {
            entries.append(.init(name: constantVectorName(layer: l, expert: e), shape: [d], role: .constantExpert, expert: e))
            entries.append(.init(name: constantMixingName(layer: l, expert: e), shape: [2, d], role: .constantExpert, expert: e))
        }
        return entries
    }

    public func buildMoE(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> MoELayer {
        let (d, experts) = (config.hiddenSize, config.numExperts)
        let projection: Router.Projection
        if config.twoLayerGate {
            projection = .twoLayer(try weights.matrix(twoLayerRouterName(layer: l, stage: 0), rows: 8 * experts, cols: d),
                                   try weights.matrix(twoLayerRouterName(layer: l, stage: 2), rows: experts, cols: 8 * experts))
        } else {
            projection = .linear(try weights.matrix(routerName(layer: l), rows: experts, cols: d))
        }
        // The first layer has no previous logits to add; its stored G is unused.
        let residual = l == 0 ? nil : GatingResidual(matrix: try weights.matrix(gatingResidualName(layer: l), rows: experts, cols: experts))
        let constants = try constantSlots(experts).map { e in
            ConstantExpert(mixing: try weights.tensor(constantMixingName(layer: l, expert: e), shape: [2, d]).floats(),
                           vector: try weights.vector(constantVectorName(layer: l, expert: e), count: d))
        }
        return MoELayer(config: config, layerIndex: l, router: Router(projection: projection, residual: residual),
                        ffnExperts: try loadFFNExperts(layer: l, config: config, weights: weights), constantExperts: constants)
    }
}

extension ModelFamily {
    public static let moepp = ModelFamily(registered: "moe++")
}
