/// Forward and backward of the simple layers, row-major over N token rows.
/// Backward functions *accumulate* into their gradient outputs (`+=`), so branches that share an
/// input simply add up.
public enum TrainingOps {
    /// Y (N×out) = X (N×in) · Wᵀ, W out×in (PyTorch Linear layout); `accumulate` adds to Y.
    public static func linear<S: TrainingScalar>(_ x: UnsafePointer<S>, _ w: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>,
                                                 rows n: Int, inputs: Int, outputs: Int, accumulate: Bool = false) {
        S.gemm(transposeA: false, transposeB: true, m: n, n: outputs, k: inputs, alpha: 1, x, lda: inputs, w, ldb: inputs,
               beta: accumulate ? 1 : 0, y, ldc: outputs)
    }

    /// dX += dY·W,  dW += dYᵀ·X (each skipped when nil; they do not depend on each other).
    public static func linearBackward<S: TrainingScalar>(_ x: UnsafePointer<S>, _ w: UnsafePointer<S>, _ dy: UnsafePointer<S>,
                                                         _ dx: UnsafeMutablePointer<S>?, _ dw: UnsafeMutablePointer<S>?,
                                                         rows n: Int, inputs: Int, outputs: Int) {
        if let dx {
            S.gemm(transposeA: false, transposeB: false, m: n, n: inputs, k: outputs, alpha: 1, dy, lda: outputs, w, ldb: inputs, beta: 1, dx, ldc: inputs)
        }
        if let dw {
            S.gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: n, alpha: 1, dy, lda: outputs, x, ldb: inputs, beta: 1, dw, ldc: inputs)
        }
    }

    /// y = x · r · w with r = 1/√(mean(x²) + ε), per row; stores r per row for the backward.
    public static func rmsNorm<S: TrainingScalar>(_ x: UnsafePointer<S>, _ w: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>,
                                                  _ r: UnsafeMutablePointer<S>, rows n: Int, width d: Int, eps: S) {
        for row in 0..<n {
            let xr = x + row * d, yr = y + row * d
            var sum: S = 0
            for j in 0..<d { sum += xr[j] * xr[j] }
            let scale = 1 / (sum / S(d) + eps).squareRoot()
            r[row] = scale
            for j in 0..<d { yr[j] = xr[j] * scale * w[j] }
        }
    }

    /// With g = dy ⊙ w:  dx = r·g − x·r³·(g·x)/d;  dw += Σ_rows dy ⊙ x·r (skipped when nil).
    public static func rmsNormBackward<S: TrainingScalar>(_ x: UnsafePointer<S>, _ w: UnsafePointer<S>, _ r: UnsafePointer<S>,
                                                          _ dy: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>, _ dw: UnsafeMutablePointer<S>?,
                                                          rows n: Int, width d: Int) {
        for row in 0..<n {
            let xr = x + row * d, dyr = dy + row * d, dxr = dx + row * d
            let scale = r[row]
            var dot: S = 0
            for j in 0..<d { dot += dyr[j] * w[j] * xr[j] }
            if let dw { for j in 0..<d { dw[j] += dyr[j] * xr[j] * scale } }
            let correction = scale * scale * scale * dot / S(d)
            for j in 0..<d { dxr[j] += scale * dyr[j] * w[j] - xr[j] * correction }
        }
    }

    /// silu(g) = g·σ(g);  silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
    @inline(__always) public static func sigmoid<S: TrainingScalar>(_ x: S) -> S { 1 / (1 + S.exponential(-x)) }

    /// In-place softmax of each row.
    public static func softmaxRows<S: TrainingScalar>(_ z: UnsafeMutablePointer<S>, rows n: Int, width d: Int) {
        for row in 0..<n {
            let zr = z + row * d
            var maximum = zr[0]
            for j in 1..<d { maximum = max(maximum, zr[j]) }
            var sum: S = 0
            for j in 0..<d {
                zr[j] = zr[j] == -.infinity ? 0 : S.exponential(zr[j] - maximum)
                sum += zr[j]
            }
            for j in 0..<d { zr[j] /= sum }
        }
    }

    /// Rotate-half RoPE on every head of every row; `inverse` rotates back (its own transpose,
    /// which is the backward pass). Row t of sequence position `positions(t)`.
    public static func rope<S: TrainingScalar>(_ x: UnsafeMutablePointer<S>, rows n: Int, heads: Int, headDim: Int,
                                               theta: Float, position: (Int) -> Int, inverse: Bool = false) {
        let half = headDim / 2
        let frequencies = (0..<half).map { i in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
        for row in 0..<n {
            let p = Float(position(row))
            for i in 0..<half {
                let angle = p * frequencies[i]
                let c = S(cosf(angle)), s = inverse ? -S(sinf(angle)) : S(sinf(angle))
                for h in 0..<heads {
                    let v = x + row * heads * headDim + h * headDim
                    let (a, b) = (v[i], v[i + half])
                    v[i] = a * c - b * s
                    v[i + half] = b * c + a * s
                }
            }
        }
    }
}

import Foundation
