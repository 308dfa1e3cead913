/// A decoder block's feed-forward: one dense SwiGLU FFN with no router (Qwen's `mlp_only_layers`,
/// DeepSeek's first layers), or a mixture of experts — which may carry shared experts that every
/// token passes through (`MoELayer.shared`).
///
/// LongCat-Flash's first sublayer is `denseWithShortcut`: its dense FFN is added to the residual
/// as usual, while its MoE's output (from the same normalised input) is held and added after the
/// next block's feed-forward — the "shortcut-connected MoE". Its record lists the dense FFN as
/// the always-on `shared(0)`.
public enum FeedForward: Sendable {
    case dense(FFNExpert)
    case moe(MoELayer)
    case denseWithShortcut(FFNExpert, MoELayer)

    /// The layer's router and experts; nil for a dense layer.
    public var moe: MoELayer? {
        switch self {
        case .moe(let layer), .denseWithShortcut(_, let layer): return layer
        case .dense: return nil
        }
    }

    /// A dense layer's pass: y_t = FFN(x_t) for every token. Its routing record has no router (no
    /// logits, nothing chosen) and lists the FFN as the always-on `shared(0)`, so that every
    /// layer keeps one record per token and views show it as always on.
    static func dense(_ ffn: FFNExpert, _ x: [Float], tokens: Int, layer: Int) -> (hidden: [Float], routing: [LayerRouting]) {
        var out = [Float](repeating: 0, count: x.count)
        ffn.forward(x, tokens: tokens, into: &out)
        let record = LayerRouting(layer: layer, routerLogits: [], residualLogits: [], probabilities: [], chosen: [],
                                  probabilitiesWithoutResidual: [], chosenWithoutResidual: [], ffnExpertsComputed: 0,
                                  shared: [ChosenExpert(index: 0, kind: .shared(0), weight: 1)])
        return (out, Array(repeating: record, count: tokens))
    }
}
