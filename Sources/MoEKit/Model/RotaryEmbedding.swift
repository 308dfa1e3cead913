import Foundation

/// Rotary position embedding, rotate-half form (as LLaMA/Mixtral/MoE++ implement it): for a head
/// vector split in halves (a, b) and frequencies f_i = θ^(−2i/d),
///   a'_i = a_i·cos(p·f_i) − b_i·sin(p·f_i),   b'_i = b_i·cos(p·f_i) + a_i·sin(p·f_i).
/// Angles are formed in Float, like the reference implementations, so logits match them.
///
/// `.adjacentPairs` is ggml's NORM mode (GPT-J style): element pairs (2i, 2i+1) rotate by p·f_i.
/// llama.cpp's converter permutes the q/k rows of `llama`-architecture GGUF files so that this
/// mode applies (each head's row 2i+j is HF row j·d/2 + i). Rotating adjacent pairs of the
/// permuted projections gives the same q·k as rotate-half on the original rows (the dot product
/// does not care how both vectors' coordinates are ordered), so the weights stay viewed in place.
public struct RotaryEmbedding: Sendable {
    public enum Pairing: String, Sendable {
        /// (i, i + d/2): Hugging Face's rotate_half, ggml's NEOX mode.
        case halves
        /// (2i, 2i + 1): ggml's NORM mode, for q/k rows permuted by llama.cpp's converter.
        case adjacent
    }

    public let headDim: Int
    public let pairing: Pairing
    let inverseFrequencies: [Float]
    /// YaRN's factor on cos and sin (1 for plain RoPE).
    let attentionFactor: Float

    public init(headDim: Int, theta: Float, pairing: Pairing = .halves, yarn: YaRN? = nil) {
        self.headDim = headDim
        self.pairing = pairing
        if let yarn {
            inverseFrequencies = yarn.inverseFrequencies(dimension: headDim, theta: theta)
            attentionFactor = Float(yarn.attentionFactor)
        } else {
            inverseFrequencies = (0..<headDim / 2).map { i in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
            attentionFactor = 1
        }
    }

    /// Rotates `heads` consecutive head vectors in place, all at `position`.
    public func apply(_ vectors: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        let half = headDim / 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: headDim) { table in
            for i in 0..<half {
                let angle = Float(position) * inverseFrequencies[i]
                table[i] = cosf(angle) * attentionFactor
                table[half + i] = sinf(angle) * attentionFactor
            }
            // Element i of the pair sits at `first(i)`, its partner `partnerOffset` after it.
            let (stride, partnerOffset) = pairing == .halves ? (1, half) : (2, 1)
            for h in 0..<heads {
                let v = vectors + h * headDim
                for i in 0..<half {
                    let first = i * stride
                    let (a, b, c, s) = (v[first], v[first + partnerOffset], table[i], table[half + i])
                    v[first] = a * c - b * s
                    v[first + partnerOffset] = b * c + a * s
                }
            }
        }
    }
}
