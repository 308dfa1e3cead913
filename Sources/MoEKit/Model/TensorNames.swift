/// Tensor names of the LLaMA-style skeleton every family shares (embedding, norms, attention,
/// final norm, lm_head). Feed-forward names are the family's own (its `Architecture` file);
/// the lookups below forward to it so that the trainer and the loader use one spelling.
public struct TensorNames: Sendable {
    public let family: ModelFamily

    public init(family: ModelFamily) { self.family = family }

    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static let lmHead = "lm_head.weight"

    func layer(_ l: Int) -> String { "model.layers.\(l)." }
    public func attention(_ l: Int, _ projection: String) -> String { layer(l) + "self_attn.\(projection).weight" }
    public func attentionBias(_ l: Int, _ projection: String) -> String { layer(l) + "self_attn.\(projection).bias" }
    public func inputNorm(_ l: Int) -> String { family.architecture.normNames(layer: l).input }
    public func postAttentionNorm(_ l: Int) -> String { family.architecture.normNames(layer: l).postAttention }
    public func queryNorm(_ l: Int) -> String { layer(l) + "self_attn.q_norm.weight" }
    public func keyNorm(_ l: Int) -> String { layer(l) + "self_attn.k_norm.weight" }

    public func router(_ l: Int) -> String { family.architecture.routerName(layer: l) }
    public func expert(_ l: Int, _ e: Int) -> ExpertTensorNames { family.architecture.expertNames(layer: l, expert: e) }
}
