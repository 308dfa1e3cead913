import CQuantKernels

/// Y = X·Wᵀ for block-format weights and a batch of tokens (a prompt, an expert's gathered tokens),
/// in integers as decoding does it: each token's activation is quantised once to 8-bit blocks (the
/// same quantiser as `Kernels.matvecs`), then the rows are split across cores and each weight
/// block is unpacked once for a group of four tokens and dotted with each (Sources/CQuantKernels,
/// quant_matmul.h). Every (row, token) result is bit-identical to the matrix–vector product of the
/// same body for that token, so a prompt gives the logits incremental decoding gives.
/// Naive twin: `NaiveKernels.quantizedMatvec` per token.
enum QuantizedMatmul {
    /// Bytes of one token's quantised activation (whole blocks, no padding: the C kernels step
    /// from one token to the next by `cols / block width` blocks).
    static func activationBytes(_ w: WeightMatrix) -> Int {
        switch w.format {
        case .q8_0, .q4_0, .q5_0, .q5_1: return w.cols / 32 * MemoryLayout<moe_block_q8>.stride
        case .q4_k, .q5_k, .q6_k: return w.cols / 256 * MemoryLayout<moe_block_q8k>.stride
        default: preconditionFailure("\(w.format.name) is not a block format")
        }
    }

    /// `x` is tokens×cols (row-major), `y` tokens×rows. `path` other than `.best` is for tests.
    static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>, path: KernelPath = .best) {
        let quantized = quantizedBatch(w, x, tokens: tokens, path: path)
        defer { quantized.deallocate() }
        let input = UnsafeRawPointer(quantized)
        Parallel.forChunks(w.rows, work: w.rows * w.cols * tokens) { range in
            rows(w, input, tokens: tokens, y, range, path: path)
        }
    }

    /// Every token of `x` (tokens×cols) quantised for `w`'s format, `activationBytes(w)` apart, in
    /// a 64-byte-aligned buffer the caller deallocates.
    static func quantizedBatch(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, path: KernelPath) -> UnsafeMutableRawPointer {
        let (stride, cols) = (activationBytes(w), w.cols)
        let quantized = UnsafeMutableRawPointer.allocate(byteCount: max(64, tokens * stride), alignment: 64)
        // Quantising runs at a few elements per ns: only a large batch pays for a hand-off to the pool.
        Parallel.forChunks(tokens, work: tokens * cols / 8) { range in
            for t in range { quantize(w.format, x + t * cols, cols, into: quantized + t * stride, path: path) }
        }
        return quantized
    }

    static func quantize(_ format: WeightFormat, _ x: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutableRawPointer, path: KernelPath) {
        switch format {
        case .q8_0, .q4_0, .q5_0, .q5_1:
            (path == .scalar ? moe_quantize_q8_scalar : moe_quantize_q8)(x, Int32(n), out.assumingMemoryBound(to: moe_block_q8.self))
        default:
            (path == .scalar ? moe_quantize_q8k_scalar : moe_quantize_q8k)(x, Int32(n), out.assumingMemoryBound(to: moe_block_q8k.self))
        }
    }

    /// Y[t][r] for r in `range` and every token, by the body `path` picks (AVX-512 VNNI where the
    /// CPU has it on `.best`, else AVX2; `.scalar` the portable body).
    static func rows(_ w: WeightMatrix, _ input: UnsafeRawPointer, tokens: Int, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>, path: KernelPath) {
        let (rowBytes, n, count, ldy) = (w.rowBytes, Int32(w.cols), Int32(tokens), w.rows)
        let (lower, upper) = (Int32(range.lowerBound), Int32(range.upperBound))
        let vnni = path == .best && QuantizedKernels.hasVNNI
        let scalar = path == .scalar
        switch w.format {
        case .q8_0 where w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (vnni ? moe_matmul_q8_0_rows8_vnni : moe_matmul_q8_0_rows8_scalar)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q8_0:
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (scalar ? moe_matmul_q8_0_scalar : vnni ? moe_matmul_q8_0_vnni : moe_matmul_q8_0)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q4_0 where w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (vnni ? moe_matmul_q4_0_rows8_vnni : moe_matmul_q4_0_rows8_scalar)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q4_0:
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (scalar ? moe_matmul_q4_0_scalar : vnni ? moe_matmul_q4_0_vnni : moe_matmul_q4_0)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q5_0:   // no VNNI body: the AVX2 one on every x86-64 machine
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (scalar ? moe_matmul_q5_0_scalar : moe_matmul_q5_0)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q5_1:   // no VNNI body: the AVX2 one on every x86-64 machine
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (scalar ? moe_matmul_q5_1_scalar : moe_matmul_q5_1)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q4_k where w.layout == .rows8:   // AVX2 and VNNI bodies
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (vnni ? moe_matmul_q4_k_rows8_vnni : scalar ? moe_matmul_q4_k_rows8_scalar : moe_matmul_q4_k_rows8_avx2)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q4_k:
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (scalar ? moe_matmul_q4_k_scalar : vnni ? moe_matmul_q4_k_vnni : moe_matmul_q4_k)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q5_k where w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (vnni ? moe_matmul_q5_k_rows8_vnni : moe_matmul_q5_k_rows8_scalar)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q5_k:   // no VNNI body for row-major rows: the AVX2 one on every x86-64 machine
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (scalar ? moe_matmul_q5_k_scalar : moe_matmul_q5_k)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q6_k where w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (vnni ? moe_matmul_q6_k_rows8_vnni : moe_matmul_q6_k_rows8_scalar)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        case .q6_k:
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (scalar ? moe_matmul_q6_k_scalar : vnni ? moe_matmul_q6_k_vnni : moe_matmul_q6_k)(w.base, rowBytes, xq, n, count, y, ldy, lower, upper)
        default:
            preconditionFailure("\(w.format.name) is not a block format")
        }
    }
}
