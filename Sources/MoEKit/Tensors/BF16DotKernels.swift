import CQuantKernels

/// The products of `ComputePrecision.bf16Activations`: bf16 weights × activations rounded to bf16,
/// by vdpbf16ps (bf16_dot_kernels.c) where the CPU has AVX-512 BF16, by the scalar twins
/// elsewhere (and for `path: .scalar`). Naive twins: the C `_scalar` bodies; KernelTests holds
/// both to them.
extension Kernels {
    static let hasAVX512BF16 = moe_cpu_has_avx512bf16() != 0

    /// Decode's preparation: x rounded to bf16 into `scratch` (cols × 2 bytes; `preparedBytes`
    /// gives bf16 products cols × 4).
    static func roundToBF16(_ x: UnsafePointer<Float>, count: Int, into scratch: UnsafeMutableRawPointer, path: KernelPath) {
        let out = scratch.assumingMemoryBound(to: UInt16.self)
        (path != .scalar && hasAVX512BF16 ? moe_round_to_bf16_avx512bf16 : moe_round_to_bf16_scalar)(x, Int32(count), out)
    }

    /// y[r] = row r · round(x) for r in `range`; `input` is what `roundToBF16` wrote.
    @inline(__always)
    static func bf16DotRows(_ product: MatvecProduct, input: UnsafeRawPointer, _ range: Range<Int>, path: KernelPath) {
        let xb = input.assumingMemoryBound(to: UInt16.self)
        (path != .scalar && hasAVX512BF16 ? moe_matvec_bf16_dot_avx512bf16 : moe_matvec_bf16_dot_scalar)(
            product.w.base, product.w.rowBytes, xb, Int32(product.w.cols), product.y, Int32(range.lowerBound), Int32(range.upperBound))
    }

    /// Y = round(X)·Wᵀ for a batch (X tokens×cols, Y tokens×rows) of bf16 weights: X is rounded
    /// once, then the rows are split across cores in blocks of 4 (the kernel's register block).
    static func bf16DotMatmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>, path: KernelPath = .best) {
        precondition(w.format == .bf16, "bf16DotMatmul takes bf16 weights, not \(w.format)")
        let vector = path != .scalar && hasAVX512BF16
        let (n, rows) = (Int32(w.cols), Int32(w.rows))
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: max(1, tokens * w.cols)) { rounded in
            let xb = rounded.baseAddress!
            (vector ? moe_round_to_bf16_avx512bf16 : moe_round_to_bf16_scalar)(x, Int32(tokens * w.cols), xb)
            let blocks = (w.rows + 3) / 4
            Parallel.forChunks(blocks, work: w.rows * w.cols * tokens) { range in
                let lower = Int32(range.lowerBound * 4), upper = min(rows, Int32(range.upperBound * 4))
                (vector ? moe_matmul_bf16_dot_avx512bf16 : moe_matmul_bf16_dot_scalar)(
                    w.base, w.rowBytes, xb, n, Int32(tokens), y, w.rows, lower, upper)
            }
        }
    }
}
