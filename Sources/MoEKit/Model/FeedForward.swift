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
    /// is rewritten so in place. The FFN works in `work` (resized to fit, kept by the caller).
    static func dense(_ ffn: FFNExpert, _ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>,
                      records: inout [[LayerRouting]], layer: Int, work: inout [Float]) {
        work.resize(to: ffn.workCount(tokens: tokens))
        work.withUnsafeMutableBufferPointer { ffn.forward(x, tokens: tokens, into: out, work: $0.baseAddress!) }
        for t in 0..<tokens {
            records[t][layer].reset(layer: layer)
            records[t][layer].listDenseFFNAsShared()
        }
    }
}
