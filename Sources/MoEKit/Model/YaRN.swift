import Foundation

/// YaRN rotary scaling (Peng et al. 2023), as transformers 4.57's `_compute_yarn_parameters`
/// computes it — the `rope_scaling: {type: "yarn", …}` of DeepSeek-V2-Lite / V3 / Moonlight.
/// For a rotary dimension d, base θ, scale s = `factor` and original context L:
///   f_i = θ^(−2i/d)  (extrapolated),  f_i / s  (interpolated),  i < d/2
///   c(r) = d·ln(L / (2π·r)) / (2·ln θ);  low = ⌊c(β_fast)⌋ ∨ 0,  high = ⌈c(β_slow)⌉ ∧ (d−1)
///   ramp_i = clamp((i − low) / (high − low), 0, 1);  f'_i = f_i/s · ramp_i + f_i · (1 − ramp_i)
///   cos and sin are multiplied by the attention factor a (`attention_factor`, else
///   m(s, mscale) / m(s, mscale_all_dim) when both are set, else m(s, 1)), m(s, μ) = 0.1·μ·ln s + 1
///   for s > 1, else 1.
/// MLA also multiplies its softmax scale by m(s, mscale_all_dim)² (`softmaxScaleFactor`).
public struct YaRN: Sendable, Equatable {
    public var factor: Double
    public var originalContext: Int
    public var betaFast: Double
    public var betaSlow: Double
    public var mscale: Double?
    public var mscaleAllDim: Double?
    public var attentionFactorOverride: Double?
    public var truncate: Bool

    static func mscale(_ scale: Double, _ mu: Double = 1) -> Double { scale <= 1 ? 1 : 0.1 * mu * log(scale) + 1 }

    /// The factor on cos and sin.
    public var attentionFactor: Double {
        if let attentionFactorOverride { return attentionFactorOverride }
        if let mscale, let mscaleAllDim, mscale != 0, mscaleAllDim != 0 {
            return Self.mscale(factor, mscale) / Self.mscale(factor, mscaleAllDim)
        }
        return Self.mscale(factor)
    }

    /// m(s, mscale_all_dim)², the factor MLA puts on its softmax scale (1 without mscale_all_dim).
    public var softmaxScaleFactor: Double {
        guard let mscaleAllDim, mscaleAllDim != 0 else { return 1 }
        let m = Self.mscale(factor, mscaleAllDim)
        return m * m
    }

    /// The d/2 inverse frequencies, in Float like the reference's float32 tensors.
    public func inverseFrequencies(dimension d: Int, theta: Float) -> [Float] {
        func correction(_ rotations: Double) -> Double {
            Double(d) * log(Double(originalContext) / (rotations * 2 * Double.pi)) / (2 * log(Double(theta)))
        }
        var low = correction(betaFast), high = correction(betaSlow)
        if truncate { low = floor(low); high = ceil(high) }
        low = max(low, 0)
        high = min(high, Double(d - 1))
        if low == high { high += 0.001 }   // the reference's guard against a zero-width ramp
        let (lowF, spanF) = (Float(low), Float(high - low))
        return (0..<d / 2).map { i in
            let extrapolated = 1 / powf(theta, Float(2 * i) / Float(d))
            let interpolated = 1 / (Float(factor) * powf(theta, Float(2 * i) / Float(d)))
            let extrapolation = 1 - min(max((Float(i) - lowF) / spanF, 0), 1)
            return interpolated * (1 - extrapolation) + extrapolated * extrapolation
        }
    }

    /// Reads a `rope_scaling` / `rope_parameters` object whose type is "yarn".
    static func decode(_ json: JSONFields, maxPositionEmbeddings: Int) throws -> YaRN {
        let factor = try json.double("factor")
        guard factor >= 1 else { throw json.fail("factor", "YaRN needs a factor ≥ 1, found \(factor)") }
        return YaRN(factor: factor,
                    originalContext: try json.int("original_max_position_embeddings", default: maxPositionEmbeddings, maximum: 1 << 24),
                    betaFast: try json.double("beta_fast", default: 32), betaSlow: try json.double("beta_slow", default: 1),
                    mscale: json.has("mscale") ? try json.double("mscale", positive: false) : nil,
                    mscaleAllDim: json.has("mscale_all_dim") ? try json.double("mscale_all_dim", positive: false) : nil,
                    attentionFactorOverride: json.has("attention_factor") ? try json.double("attention_factor") : nil,
                    truncate: try json.bool("truncate", default: true))
    }

    /// The keys `decode` reads, as JSON, for writing config.json.
    var jsonText: String {
        var fields = ["\"type\": \"yarn\"", "\"rope_type\": \"yarn\"", "\"factor\": \(factor)",
                      "\"original_max_position_embeddings\": \(originalContext)", "\"beta_fast\": \(betaFast)", "\"beta_slow\": \(betaSlow)"]
        if let mscale { fields.append("\"mscale\": \(mscale)") }
        if let mscaleAllDim { fields.append("\"mscale_all_dim\": \(mscaleAllDim)") }
        if let attentionFactorOverride { fields.append("\"attention_factor\": \(attentionFactorOverride)") }
        if !truncate { fields.append("\"truncate\": false") }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}
