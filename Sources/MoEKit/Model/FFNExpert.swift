/// A SwiGLU feed-forward expert: E(x) = W_down · (silu(W_gate·x) ⊙ (W_up·x)).
/// MoE++ stores gate and up fused in one `up_proj` ((2I)×d: gate rows first); Mixtral and OLMoE
/// store them apart. Either way they are row views of the checkpoint.
public struct FFNExpert: Sendable {
    public let gate: WeightMatrix
    public let up: WeightMatrix
    public let down: WeightMatrix

    public var intermediateSize: Int { gate.rows }
    public var byteCount: Int { gate.byteCount + up.byteCount + down.byteCount }

    public init(gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix) {
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// Applies the expert to `tokens` rows of `x` (tokens × d) into `out` (tokens × d).
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>) {
        let inner = intermediateSize
        // On the stack when it fits (a decode step), instead of two heap buffers a call.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * tokens * inner) { scratch in
            let gated = scratch.baseAddress!, upped = gated + tokens * inner
            if tokens == 1 {
                Kernels.matvecs(MatvecProduct(gate, x, gated), MatvecProduct(up, x, upped))
            } else {
                Kernels.matmul(gate, x, tokens: tokens, gated)
                Kernels.matmul(up, x, tokens: tokens, upped)
            }
            Kernels.siluMultiply(gated, upped, gated, tokens * inner)
            Kernels.matmul(down, gated, tokens: tokens, out)
        }
    }
}
