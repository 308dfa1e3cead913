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
        switch projection {
        case .linear(let w):
            var out = [Float](repeating: 0, count: w.rows)
            Kernels.matvec(w, x, &out)
            return out
        case .twoLayer(let first, let second):
            var hidden = [Float](repeating: 0, count: first.rows)
            Kernels.matvec(first, x, &hidden)
            for i in hidden.indices { hidden[i] = tanhf(hidden[i]) }
            var out = [Float](repeating: 0, count: second.rows)
            Kernels.matvec(second, hidden, &out)
            return out
        }
    }
}

/// MoE++'s gating residual: logits_j += G_j · logits_{j−1}, where logits_{j−1} is what the previous
/// layer passed on (its own post-residual, pre-normalisation logits). It lets routing decisions
/// in one layer inform the next.
public struct GatingResidual: Sendable {
    public let matrix: WeightMatrix

    public func apply(_ logits: [Float], previous: [Float]) -> [Float] {
        var carried = [Float](repeating: 0, count: matrix.rows)
        Kernels.matvec(matrix, previous, &carried)
        return zip(logits, carried).map(+)
    }
}

import Foundation
