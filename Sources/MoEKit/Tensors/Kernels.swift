import Foundation
import COpenBLAS
import CQuantKernels

/// The optimised kernels. Each has a naive twin in `NaiveKernels.swift`; `KernelTests` holds them equal.
public enum Kernels {
    /// Σ_i row[i]·x[i] over `count` elements of a weight row of any format: f32 (attention's
    /// q·k, the constant experts) 16 lanes at a time here, every other format as a one-row
    /// product by the C kernels.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ dtype: WeightFormat, _ x: UnsafePointer<Float>, _ count: Int) -> Float {
        guard dtype == .f32 else {
            var y: Float = 0
            matvec(WeightMatrix(rows: 1, cols: count, format: dtype, base: row, owner: nil), x, &y)
            return y
        }
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        let xRaw = UnsafeRawPointer(x)
        while i + 32 <= count {
            acc0 += row.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * xRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc1 += row.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self) * xRaw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
            i += 32
        }
        var sum = (acc0 + acc1).sum()
        let floats = row.assumingMemoryBound(to: Float.self)
        while i < count { sum += floats[i] * x[i]; i += 1 }
        return sum
    }

    /// y = W·x (W is rows×cols, x has cols elements, y rows), rows split across cores, by the
    /// C kernel for W's format (GroupedMatvec.swift). `path` other than `.best` is for tests.
    public static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        matvec(w, x, y, path: .best)
    }

    static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, path: KernelPath) {
        withUnsafePointer(to: MatvecProduct(w, x, y)) { matvecs(UnsafeBufferPointer(start: $0, count: 1), path: path) }
    }

    /// Y = X·Wᵀ for a batch: X is tokens×cols (row-major), Y tokens×rows. One pass over the weights
    /// serves the whole batch: block formats take integer products on activations quantised once
    /// per token, as decoding does (QuantizedMatmul.swift); element formats take the blocked
    /// kernels (ElementMatmul.swift). Several matrices of one input: `matmuls` (SharedInputMatmul.swift).
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>) {
        if tokens == 1 { matvec(w, x, y); return }
        if w.format == .bf16 && ComputePrecision.current == .bf16Activations { bf16DotMatmul(w, x, tokens: tokens, y); return }
        if w.format.elementsPerBlock > 1 { QuantizedMatmul.matmul(w, x, tokens: tokens, y); return }
        elementMatmul(w, x, tokens: tokens, y, method: .blocked)
    }

    /// The BLAS path: f32 rows straight to sgemm; other formats widened to f32 a tile at a time.
    static func matmulByWideningTiles(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>) {
        if w.format == .f32 {
            sgemmTransposedB(x, w.base.assumingMemoryBound(to: Float.self), y, m: tokens, n: w.rows, k: w.cols, ldc: w.rows)
            return
        }
        let tileRows = max(1, min(w.rows, (1 << 18) / max(1, w.cols)))
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * w.cols)
        defer { tile.deallocate() }
        var start = 0
        while start < w.rows {
            let count = min(tileRows, w.rows - start)
            Parallel.forChunks(count, work: count * w.cols) { range in
                w.widenRows(start + range.lowerBound ..< start + range.upperBound, into: tile + range.lowerBound * w.cols)
            }
            sgemmTransposedB(x, tile, y + start, m: tokens, n: count, k: w.cols, ldc: w.rows)
            start += count
        }
    }

    /// C[m×n] (leading dimension ldc) = A[m×k] · B[n×k]ᵀ, all row-major.
    @inline(__always)
    static func sgemmTransposedB(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, ldc: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(k), 0, c, Int32(ldc))
    }

    /// RMSNorm: out_i = x_i / sqrt(mean(x²) + eps) · weight_i.
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ eps: Float, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        var acc = SIMD16<Float>()
        var i = 0
        let xRaw = UnsafeRawPointer(x)
        while i + 16 <= count {
            let v = xRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc += v * v
            i += 16
        }
        var sumSquares = acc.sum()
        while i < count { sumSquares += x[i] * x[i]; i += 1 }
        let scale = 1 / (sumSquares / Float(count) + eps).squareRoot()
        for j in 0..<count { out[j] = x[j] * scale * weight[j] }
    }

    /// In-place numerically stable softmax: p_i = exp(z_i − max z) / Σ_j exp(z_j − max z).
    /// Entries of −∞ (masked experts) get probability 0.
    public static func softmax(_ z: UnsafeMutablePointer<Float>, _ count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, z[i]) }
        guard maximum > -Float.infinity else {
            for i in 0..<count { z[i] = 0 }
            return
        }
        var sum: Float = 0
        for i in 0..<count { z[i] = expf(z[i] - maximum); sum += z[i] }
        let inverse = 1 / sum
        for i in 0..<count { z[i] *= inverse }
    }

    /// SwiGLU's gate: out_i = silu(gate_i) · up_i, silu(g) = g / (1 + e^(−g)), by the C kernels
    /// (a polynomial exp, 16 or 8 lanes at a time: one libm expf per element was ~7% of a
    /// one-thread prompt on the 145 M Mixtral). Prompt and decode both come here, so a batch and
    /// the same tokens one at a time get the same bits. `out` may alias `gate`.
    public static func siluMultiply(_ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        siluMultiply(gate, up, out, count, path: .best)
    }

    static func siluMultiply(_ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int, path: KernelPath) {
        switch path {
        case .best: (hasAVX512 ? moe_silu_multiply_avx512 : moe_silu_multiply)(gate, up, out, count)
        case .avx2: moe_silu_multiply(gate, up, out, count)
        case .scalar: moe_silu_multiply_scalar(gate, up, out, count)
        }
    }

    /// y += a·x
    @inline(__always)
    public static func addScaled(_ x: UnsafePointer<Float>, _ a: Float, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { y[i] += a * x[i] }
    }
}


