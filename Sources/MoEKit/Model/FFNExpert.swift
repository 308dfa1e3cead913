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

    /// Floats of work space `forward(_:tokens:into:work:)` takes for `tokens` rows: the gate and
    /// up products, tokens × I each.
    public func workCount(tokens: Int) -> Int { 2 * tokens * intermediateSize }

    /// Applies the expert to `tokens` rows of `x` (tokens × d) into `out` (tokens × d), with work
    /// space of its own (on the stack when it fits, else on the heap).
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: workCount(tokens: tokens)) { work in
            forward(x, tokens: tokens, into: out, work: work.baseAddress!)
        }
    }

    /// The pass in `work` (`workCount(tokens:)` floats), which a decode loop keeps from step to
    /// step: its own temporary would be a heap allocation per call above the stack limit (1 KiB).
    /// Not a ThreadScratch buffer: the matvecs inside take the calling thread's ThreadScratch.
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        let inner = intermediateSize
        let gated = work, upped = work + tokens * inner
        if tokens == 1 {
            Kernels.matvecs(MatvecProduct(gate, x, gated), MatvecProduct(up, x, upped))
            Kernels.siluMultiply(gated, upped, gated, inner)
        } else {
            Kernels.matmuls(x, tokens: tokens, [MatmulTarget(gate, gated), MatmulTarget(up, upped)])
            // A batch's gate (an exp per element) split across the cores too: serial, it was
            // ~7% of a one-thread prompt on the 145 M Mixtral, all of it lost to the second thread.
            Parallel.forChunks(tokens, work: tokens * inner * 8) { range in
                let offset = range.lowerBound * inner
                Kernels.siluMultiply(gated + offset, upped + offset, gated + offset, range.count * inner)
            }
        }
        Kernels.matmul(down, gated, tokens: tokens, out)
    }
}
