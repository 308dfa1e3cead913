import Foundation

/// Rotary position embedding, rotate-half form (as LLaMA/Mixtral/MoE++ implement it): for a head
/// vector split in halves (a, b) and frequencies f_i = θ^(−2i/d),
///   a'_i = a_i·cos(p·f_i) − b_i·sin(p·f_i),   b'_i = b_i·cos(p·f_i) + a_i·sin(p·f_i).
/// Angles are formed in Float, like the reference implementations, so logits match them.
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Float) {
        self.headDim = headDim
        inverseFrequencies = (0..<headDim / 2).map { i in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
    }

    /// Rotates `heads` consecutive head vectors in place, all at `position`.
    public func apply(_ vectors: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        let half = headDim / 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: headDim) { table in
            for i in 0..<half {
                let angle = Float(position) * inverseFrequencies[i]
                table[i] = cosf(angle)
                table[half + i] = sinf(angle)
            }
            for h in 0..<heads {
                let v = vectors + h * headDim
                for i in 0..<half {
                    let (a, b, c, s) = (v[i], v[i + half], table[i], table[half + i])
                    v[i] = a * c - b * s
                    v[i + half] = b * c + a * s
                }
            }
        }
    }
}
