/// Checkpoint tensor names per family (moepp-spec "Tensor names"; Mixtral's `block_sparse_moe`;
/// OLMoE's `mlp.gate` / `mlp.experts`). The trainer writes with the same names.
public struct TensorNames: Sendable {
    public let family: ModelFamily

    public init(family: ModelFamily) { self.family = family }

    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static let lmHead = "lm_head.weight"

    func layer(_ l: Int) -> String { "model.layers.\(l)." }
    public func attention(_ l: Int, _ projection: String) -> String { layer(l) + "self_attn.\(projection).weight" }
    public func inputNorm(_ l: Int) -> String { layer(l) + "input_layernorm.weight" }
    public func postAttentionNorm(_ l: Int) -> String { layer(l) + "post_attention_layernorm.weight" }
    public func queryNorm(_ l: Int) -> String { layer(l) + "self_attn.q_norm.weight" }
    public func keyNorm(_ l: Int) -> String { layer(l) + "self_attn.k_norm.weight" }

    public func router(_ l: Int) -> String {
        switch family {
        case .moepp: return layer(l) + "mlp.moe.gate.wg.weight"
        case .mixtral: return layer(l) + "block_sparse_moe.gate.weight"
        case .olmoe: return layer(l) + "mlp.gate.weight"
        }
    }
    public func twoLayerRouter(_ l: Int, _ stage: Int) -> String { layer(l) + "mlp.moe.gate.wg.\(stage).weight" }
    public func gatingResidual(_ l: Int) -> String { layer(l) + "mlp.moe.gate.gate_map.weight" }

    func moeExpert(_ l: Int, _ e: Int) -> String { layer(l) + "mlp.moe.experts.experts.\(e)." }
    /// MoE++'s fused gate+up projection ((2I)×d).
    public func fusedUpProjection(_ l: Int, _ e: Int) -> String { moeExpert(l, e) + "up_proj.weight" }
    public func expertGate(_ l: Int, _ e: Int) -> String {
        family == .mixtral ? layer(l) + "block_sparse_moe.experts.\(e).w1.weight" : layer(l) + "mlp.experts.\(e).gate_proj.weight"
    }
    public func expertUp(_ l: Int, _ e: Int) -> String {
        family == .mixtral ? layer(l) + "block_sparse_moe.experts.\(e).w3.weight" : layer(l) + "mlp.experts.\(e).up_proj.weight"
    }
    public func expertDown(_ l: Int, _ e: Int) -> String {
        switch family {
        case .moepp: return moeExpert(l, e) + "down_proj.weight"
        case .mixtral: return layer(l) + "block_sparse_moe.experts.\(e).w2.weight"
        case .olmoe: return layer(l) + "mlp.experts.\(e).down_proj.weight"
        }
    }
    /// Constant expert at expert index e (E−4 or E−3): its vector v and its 2×d mixing weights.
    public func constantVector(_ l: Int, _ e: Int) -> String { moeExpert(l, e) + "constant" }
    public func constantMixing(_ l: Int, _ e: Int) -> String { moeExpert(l, e) + "wg.weight" }
}
