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

    /// A dense layer's pass: y_t = FFN(x_t) for every token, into `out`. Its routing record has no
    /// router (no logits, nothing chosen) and lists the FFN as the always-on `shared(0)`, so that
    /// every layer keeps one record per token and views show it as always on; `records[t][layer]`
    /// is rewritten so in place.
    static func dense(_ ffn: FFNExpert, _ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>,
                      records: inout [[LayerRouting]], layer: Int) {
        ffn.forward(x, tokens: tokens, into: out)
        for t in 0..<tokens { records[t][layer].makeDense(layer: layer) }
    }
}

extension LayerRouting {
    /// Turns this record into a dense layer's (see `FeedForward.dense`), reusing its buffers.
    mutating func makeDense(layer: Int) {
        self.layer = layer
        routerLogits.removeAll(keepingCapacity: true)
        residualLogits.removeAll(keepingCapacity: true)
        probabilities.removeAll(keepingCapacity: true)
        probabilitiesWithoutResidual.removeAll(keepingCapacity: true)
        chosen.removeAll(keepingCapacity: true)
        chosenWithoutResidual.removeAll(keepingCapacity: true)
        ffnExpertsComputed = 0
        predictedExperts = nil
        cache = nil
        shared.removeAll(keepingCapacity: true)
        shared.append(ChosenExpert(index: 0, kind: .shared(0), weight: 1))
        rule = nil
    }
}
