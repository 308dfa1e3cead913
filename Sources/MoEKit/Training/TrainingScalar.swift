import COpenBLAS
import Foundation

/// The number type the trainer computes in: Float for real training, Double for the gradient
/// checks (so central differences can use a tiny step without drowning in rounding).
public protocol TrainingScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    /// C = α·op(A)·op(B) + β·C, row-major; op transposes when asked. A is m×k after op, B k×n.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     _ a: UnsafePointer<Self>, lda: Int, _ b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, _ c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exponential(_ x: Self) -> Self
    static func cosine(_ x: Self) -> Self
    static func sine(_ x: Self) -> Self
}

extension Float: TrainingScalar {
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func exponential(_ x: Float) -> Float { expf(x) }
    public static func cosine(_ x: Float) -> Float { cosf(x) }
    public static func sine(_ x: Float) -> Float { sinf(x) }
}

extension Double: TrainingScalar {
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func exponential(_ x: Double) -> Double { exp(x) }
    public static func cosine(_ x: Double) -> Double { cos(x) }
    public static func sine(_ x: Double) -> Double { sin(x) }
}

/// A row-major matrix the trainer owns (activations, gradients). Plain storage, explicit shape.
public struct Matrix<S: TrainingScalar> {
    public var rows: Int
    public var cols: Int
    public var values: [S]

    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        values = [S](repeating: 0, count: rows * cols)
    }

    public init(rows: Int, cols: Int, values: [S]) {
        precondition(values.count == rows * cols)
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    @inline(__always) public subscript(row: Int, col: Int) -> S {
        get { values[row * cols + col] }
        set { values[row * cols + col] = newValue }
    }
}
