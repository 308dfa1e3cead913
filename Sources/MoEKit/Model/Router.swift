import Foundation

/// The router's projection from a token's hidden state to one logit per expert, computed in f32:
/// `W_r·x`, or MoE++'s 2-layer gate `W₂·tanh(W₁·x)` (W₁ (8E)×d, W₂ E×(8E)).
public struct Router: Sendable {
    public enum Projection: Sendable {
        case linear(WeightMatrix)
        case twoLayer(WeightMatrix, WeightMatrix)
    }

    public let projection: Projection
    /// MoE++'s gating residual G (E×E); nil for vanilla MoE. Unused in the first layer.
    public let residual: GatingResidual?
    /// DeepSeek-V3's / LongCat's `e_score_correction_bias`: added to the scores for the choice only.
    public var scoreCorrectionBias: [Float]? = nil

    public var expertCount: Int {
        switch projection {
        case .linear(let w): return w.rows
        case .twoLayer(_, let second): return second.rows
        }
    }

    public func logits(_ x: UnsafePointer<Float>) -> [Float] {
        var out: [Float] = [], hidden: [Float] = []
        logits(x, into: &out, hidden: &hidden)
        return out
    }

    /// W_r·x for `tokens` rows of `x` at once into `out` (tokens × experts), when that equals
    /// `logits` per token bit for bit: a linear router in a block format, whose batch kernels give
    /// each (row, token) what the matrix–vector kernel gives (QuantizedMatmul). A prompt's
    /// routers then run on every core instead of one token after another on one (a small
    /// share of the prompt: not measurable apart on our loaded machine). False (nothing written)
    /// otherwise.
    func batchLogits(_ x: UnsafePointer<Float>, tokens: Int, into out: inout [Float]) -> Bool {
        guard tokens > 1, case .linear(let w) = projection, w.format.elementsPerBlock > 1 else { return false }
        out.resize(to: tokens * w.rows)
        out.withUnsafeMutableBufferPointer { Kernels.matmul(w, x, tokens: tokens, $0.baseAddress!) }
        return true
    }

    /// `logits` into `out`, with `hidden` for the two-layer gate's tanh(W₁·x): buffers the
    /// caller keeps, resized only when their length is wrong (never, from token to token).
    func logits(_ x: UnsafePointer<Float>, into out: inout [Float], hidden: inout [Float]) {
        switch projection {
        case .linear(let w):
            out.resize(to: w.rows)
            out.withUnsafeMutableBufferPointer { Kernels.matvec(w, x, $0.baseAddress!) }
        case .twoLayer(let first, let second):
            hidden.resize(to: first.rows)
            hidden.withUnsafeMutableBufferPointer { h in
                Kernels.matvec(first, x, h.baseAddress!)
                for i in h.indices { h[i] = tanhf(h[i]) }
            }
            out.resize(to: second.rows)
            hidden.withUnsafeBufferPointer { h in out.withUnsafeMutableBufferPointer { Kernels.matvec(second, h.baseAddress!, $0.baseAddress!) } }
        }
    }
}

/// MoE++'s gating residual: logits_j += G_j · logits_{j−1}, where logits_{j−1} is what the previous
/// layer passed on (its own post-residual, pre-normalisation logits). It lets routing decisions
/// in one layer inform the next.
public struct GatingResidual: Sendable {
    public let matrix: WeightMatrix

    public func apply(_ logits: [Float], previous: [Float]) -> [Float] {
        var out: [Float] = [], carried: [Float] = []
        apply(logits, previous: previous, into: &out, carried: &carried)
        return out
    }

    /// `apply` into `out`, with `carried` for G·previous (buffers the caller keeps).
    func apply(_ logits: [Float], previous: [Float], into out: inout [Float], carried: inout [Float]) {
        carried.resize(to: matrix.rows)
        carried.withUnsafeMutableBufferPointer { c in previous.withUnsafeBufferPointer { Kernels.matvec(matrix, $0.baseAddress!, c.baseAddress!) } }
        out.removeAll(keepingCapacity: true)
        for (logit, carry) in zip(logits, carried) { out.append(logit + carry) }
    }
}
