import Foundation
import COpenBLAS

/// The optimised kernels. Each has a naive twin in `NaiveKernels.swift`; `KernelTests` holds them equal.
public enum Kernels {
    /// Σ_i row[i]·x[i] over `count` elements of a weight row of any dtype, 16 lanes at a time.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ dtype: WeightFormat, _ x: UnsafePointer<Float>, _ count: Int) -> Float {
        if dtype.elementsPerBlock > 1 { return QuantizedKernels.dot(row, dtype, x, count) }
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        let xRaw = UnsafeRawPointer(x)
        switch dtype {
        case .f32:
            while i + 32 <= count {
                acc0 += row.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * xRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                acc1 += row.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self) * xRaw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                i += 32
            }
        case .f16:
            while i + 32 <= count {
                let w0 = SIMD16<Float>(row.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<Float16>.self))
                let w1 = SIMD16<Float>(row.loadUnaligned(fromByteOffset: i * 2 + 32, as: SIMD16<Float16>.self))
                acc0 += w0 * xRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                acc1 += w1 * xRaw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                i += 32
            }
        case .bf16:
            while i + 32 <= count {
                let b0 = SIMD16<UInt32>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt16>.self)) &<< 16
                let b1 = SIMD16<UInt32>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: i * 2 + 32, as: SIMD16<UInt16>.self)) &<< 16
                acc0 += unsafeBitCast(b0, to: SIMD16<Float>.self) * xRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                acc1 += unsafeBitCast(b1, to: SIMD16<Float>.self) * xRaw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                i += 32
            }
        case .q8_0, .q4_0, .q4_k, .q6_k:
            break   // handled above
        }
        var sum = (acc0 + acc1).sum()
        while i < count { sum += loadElement(row, dtype, i) * x[i]; i += 1 }
        return sum
    }

    /// y = W·x (W is rows×cols, x has cols elements, y rows). Rows are split across cores.
    /// Block formats take the integer path (QuantizedKernels).
    public static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        if w.format.elementsPerBlock > 1 { QuantizedKernels.matvec(w, x, y); return }
        if w.format == .bf16 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(32, w.cols)) { split in
                splitEvenOdd(x, w.cols, split.baseAddress!)
                let split = UnsafePointer(split.baseAddress!)
                Parallel.forChunks(w.rows, work: w.rows * w.cols) { range in
                    for r in range { y[r] = dotBFloat16(w.rowPointer(r), split, x, w.cols) }
                }
            }
            return
        }
        Parallel.forChunks(w.rows, work: w.rows * w.cols) { range in
            for r in range { y[r] = dot(w.rowPointer(r), w.format, x, w.cols) }
        }
    }

    /// Rearranges x for `dotBFloat16`: each block of 32 becomes its 16 even-indexed elements
    /// followed by its 16 odd-indexed ones.
    static func splitEvenOdd(_ x: UnsafePointer<Float>, _ count: Int, _ out: UnsafeMutablePointer<Float>) {
        var block = 0
        while block + 32 <= count {
            for i in 0..<16 {
                out[block + i] = x[block + 2 * i]
                out[block + 16 + i] = x[block + 2 * i + 1]
            }
            block += 32
        }
    }

    /// A bf16 row read as 32-bit words, each holding two values: `word << 16` is the even element
    /// and `word & 0xFFFF0000` the odd one, both exact f32s. With x pre-split by `splitEvenOdd`
    /// the loop is two multiply-adds per 16 words and no widening shuffles.
    @inline(__always)
    static func dotBFloat16(_ row: UnsafeRawPointer, _ split: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var even = SIMD16<Float>(), odd = SIMD16<Float>()
        let splitRaw = UnsafeRawPointer(split)
        var i = 0
        while i + 32 <= count {
            let words = row.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt32>.self)
            even += unsafeBitCast(words &<< 16, to: SIMD16<Float>.self) * splitRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            odd += unsafeBitCast(words & 0xFFFF_0000, to: SIMD16<Float>.self) * splitRaw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
            i += 32
        }
        var sum = (even + odd).sum()
        while i < count { sum += loadElement(row, .bf16, i) * x[i]; i += 1 }
        return sum
    }

    /// Up to this many tokens, a batch is cheaper as dot products over each row read once (the
    /// row stays in L1 across the tokens) than widening the whole matrix for sgemm: an MoE expert
    /// in a prompt often receives only a handful of tokens.
    static let smallBatchTokens = 8

    /// Y = X·Wᵀ for a batch: X is tokens×cols (row-major), Y tokens×rows. One pass over the weights
    /// serves the whole batch: small batches take per-row dot products; otherwise f32 goes straight
    /// to BLAS, f16/bf16 rows are widened and block formats dequantised a tile at a time (the tile
    /// split across cores).
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>) {
        if tokens == 1 { matvec(w, x, y); return }
        if w.format == .f32 {
            sgemmTransposedB(x, w.base.assumingMemoryBound(to: Float.self), y, m: tokens, n: w.rows, k: w.cols, ldc: w.rows)
            return
        }
        // Block formats' dot products quantise x per call, so they always take the tile path.
        if tokens <= smallBatchTokens && w.format.elementsPerBlock == 1 { smallBatch(w, x, tokens: tokens, y); return }
        let tileRows = max(1, min(w.rows, (1 << 18) / max(1, w.cols)))
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * w.cols)
        defer { tile.deallocate() }
        var start = 0
        while start < w.rows {
            let count = min(tileRows, w.rows - start)
            Parallel.forChunks(count, work: count * w.cols) { range in
                convertToFloat(w.rowPointer(start + range.lowerBound), w.format, count: range.count * w.cols, into: tile + range.lowerBound * w.cols)
            }
            sgemmTransposedB(x, tile, y + start, m: tokens, n: count, k: w.cols, ldc: w.rows)
            start += count
        }
    }

    /// y[t][r] = row_r · x_t for a few tokens, rows split across cores.
    static func smallBatch(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>) {
        let (rows, cols) = (w.rows, w.cols)
        if w.format == .bf16 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(32, cols) * tokens) { split in
                for t in 0..<tokens { splitEvenOdd(x + t * cols, cols, split.baseAddress! + t * max(32, cols)) }
                let split = UnsafePointer(split.baseAddress!)
                Parallel.forChunks(rows, work: rows * cols * tokens) { range in
                    for r in range {
                        let row = w.rowPointer(r)
                        for t in 0..<tokens { y[t * rows + r] = dotBFloat16(row, split + t * max(32, cols), x + t * cols, cols) }
                    }
                }
            }
            return
        }
        Parallel.forChunks(rows, work: rows * cols * tokens) { range in
            for r in range {
                let row = w.rowPointer(r)
                for t in 0..<tokens { y[t * rows + r] = dot(row, w.format, x + t * cols, cols) }
            }
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

    /// SwiGLU's gate: out_i = silu(gate_i) · up_i, silu(g) = g / (1 + e^(−g)).
    public static func siluMultiply(_ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count {
            let g = gate[i]
            out[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// y += a·x
    @inline(__always)
    public static func addScaled(_ x: UnsafePointer<Float>, _ a: Float, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { y[i] += a * x[i] }
    }
}


