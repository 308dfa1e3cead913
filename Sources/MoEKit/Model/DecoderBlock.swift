import Dispatch

/// A LLaMA-style block: h = x + Attn(RMSNorm(x));  out = h + MoE(RMSNorm(h)).
public struct DecoderBlock: Sendable {
    let config: ModelConfig
    let inputNorm: [Float]
    let attention: Attention
    let postAttentionNorm: [Float]
    public let moe: MoELayer

    func normalized(_ x: [Float], _ weight: [Float], tokens: Int) -> [Float] {
        let d = config.hiddenSize
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for t in 0..<tokens {
                    Kernels.rmsNorm(input.baseAddress! + t * d, weight, config.rmsNormEps, output.baseAddress! + t * d, d)
                }
            }
        }
        return out
    }

    /// h = x + Attn(RMSNorm(x)), in place.
    func attend(_ hidden: inout [Float], tokens: Int, start: Int, layer: Int, cache: KVCache) {
        let attended = attention.forward(normalized(hidden, inputNorm, tokens: tokens), tokens: tokens, start: start, layer: layer, cache: cache)
        for i in hidden.indices { hidden[i] += attended[i] }
    }
}

/// Wall time spent in attention and in the MoE layers (router + experts + norm), for benchmarks
/// that compare expert-layer throughput.
public final class LayerTimings: @unchecked Sendable {
    public private(set) var attentionSeconds = 0.0
    public private(set) var moeSeconds = 0.0
    /// Token-layers processed (tokens × layers).
    public private(set) var tokenLayers = 0

    public init() {}

    func add(attention: UInt64, moe: UInt64, tokens: Int) {
        attentionSeconds += Double(attention) / 1e9
        moeSeconds += Double(moe) / 1e9
        tokenLayers += tokens
    }

    public func reset() { attentionSeconds = 0; moeSeconds = 0; tokenLayers = 0 }
}
