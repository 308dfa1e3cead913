import Foundation

/// MoE++'s constant expert: E(x) = a₀·x + a₁·v with [a₀, a₁] = softmax(W_c·x); W_c is 2×d and v a
/// learned d-vector. It "replaces" a token's state with a blend of itself and a constant.
public struct ConstantExpert: Sendable {
    /// W_c, row-major 2×d.
    public let mixing: [Float]
    /// v.
    public let vector: [Float]

    public init(mixing: [Float], vector: [Float]) {
        precondition(mixing.count == 2 * vector.count)
        self.mixing = mixing
        self.vector = vector
    }

    /// The two blend coefficients [a₀, a₁] for input x.
    public func coefficients(_ x: UnsafePointer<Float>) -> (Float, Float) {
        let d = vector.count
        // Two logits in a tuple (contiguous, on the stack) rather than an array per call.
        var logits: (Float, Float) = mixing.withUnsafeBufferPointer { w in
            (Kernels.dot(UnsafeRawPointer(w.baseAddress!), .f32, x, d), Kernels.dot(UnsafeRawPointer(w.baseAddress! + d), .f32, x, d))
        }
        withUnsafeMutableBytes(of: &logits) { Kernels.softmax($0.baseAddress!.assumingMemoryBound(to: Float.self), 2) }
        return logits
    }

    /// out += weight · E(x)
    public func accumulate(_ x: UnsafePointer<Float>, weight: Float, into out: UnsafeMutablePointer<Float>) {
        let (a0, a1) = coefficients(x)
        for i in 0..<vector.count { out[i] += weight * (a0 * x[i] + a1 * vector[i]) }
    }
}

/// The two parameter-free MoE++ experts.
/// - copy ("skip"): E(x) = x — the token keeps its state, the layer's FFN compute is skipped.
/// - zero ("discard"): E(x) = 0 — and under default gating its weight is forced to 0 before
///   renormalisation, so choosing it hands the whole weight to the other chosen expert.
public enum ParameterFreeExpert {
    /// out += weight · x
    public static func accumulateCopy(_ x: UnsafePointer<Float>, weight: Float, into out: UnsafeMutablePointer<Float>, _ count: Int) {
        Kernels.addScaled(x, weight, out, count)
    }
}
