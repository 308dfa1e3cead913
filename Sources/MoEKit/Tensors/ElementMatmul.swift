import CQuantKernels

/// Exact batch products for the element formats (f32, f16, bf16): Y = X·Wᵀ,
///   y[t][r] = Σ_i w_r[i]·x_t[i]   (every f16/bf16 weight widened exactly, summed in f32),
/// by the register-blocked C kernels (element_gemm.h) with the rows split across our worker
/// pool. Nothing is widened into memory and no second thread system (OpenBLAS's) is woken, which
/// is what a prompt's many small batches — the few tokens routed to each expert — paid for.
/// Naive twin: NaiveKernels.matmul.
extension Kernels {
    /// How a batch of an element format is computed: `matmul` always takes `.blocked`. f32 from
    /// 128 tokens once went to OpenBLAS's packed sgemm (~10% ahead where that was measured), but
    /// the OpenBLAS we link detects the Xeon we measure on as "Prescott" and runs SSE3 kernels
    /// there: 2.4–2.8× slower than the blocked kernel at 128–256 tokens, and its threads spin
    /// beside our pool (BENCHMARKS.md "Two threads on a small model's prompt"). `.blas` stays for
    /// tests and `moepp matmul-bench`, which compare the two.
    public enum ElementMatmulMethod: String, CaseIterable, Sendable {
        /// The C kernels (element_gemm.h) on our pool.
        case blocked
        /// Rows widened to f32 a tile at a time, then OpenBLAS sgemm (f32: sgemm on the rows).
        case blas
    }

    /// Y = X·Wᵀ by `method`; `path` picks the C bodies of `.blocked` (tests).
    public static func elementMatmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>,
                                     method: ElementMatmulMethod) {
        elementMatmul(w, x, tokens: tokens, y, method: method, path: .best)
    }

    static func elementMatmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>,
                              method: ElementMatmulMethod, path: KernelPath) {
        precondition(w.format.elementsPerBlock == 1, "elementMatmul: \(w.format.name) is a block format")
        switch method {
        case .blocked:
            Parallel.forChunks(w.rows, work: w.rows * w.cols * tokens) { range in
                elementRows(w, x, tokens: tokens, y, range, path: path)
            }
        case .blas:
            matmulByWideningTiles(w, x, tokens: tokens, y)
        }
    }

    /// y[t][r] for r in `range` and every token, by the body `path` picks for W's format.
    static func elementRows(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>,
                            _ range: Range<Int>, path: KernelPath) {
        let wide = path == .best && hasAVX512, scalar = path == .scalar
        let body: @convention(c) (UnsafeRawPointer?, Int, UnsafePointer<Float>?, Int32, Int32, UnsafeMutablePointer<Float>?, Int32, Int32, Int32) -> Void
        switch w.format {
        case .f32: body = scalar ? moe_gemm_f32_scalar : wide ? moe_gemm_f32_avx512 : moe_gemm_f32
        case .f16: body = scalar ? moe_gemm_f16_scalar : wide ? moe_gemm_f16_avx512 : moe_gemm_f16
        case .bf16: body = scalar ? moe_gemm_bf16_scalar : wide ? moe_gemm_bf16_avx512 : moe_gemm_bf16
        default: preconditionFailure("elementRows: \(w.format.name) is a block format")
        }
        body(w.base, w.rowBytes, x, Int32(w.cols), Int32(tokens), y, Int32(w.rows), Int32(range.lowerBound), Int32(range.upperBound))
    }
}
