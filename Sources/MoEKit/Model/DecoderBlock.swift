import Dispatch

/// A LLaMA-style block: h = x + m·Attn(RMSNorm(x));  out = h + m·FF(RMSNorm(h)), where FF is
/// dense or a MoE (FeedForward) and m is Granite's `residual_multiplier` (1 elsewhere).
public struct DecoderBlock: Sendable {
    let config: ModelConfig
    let inputNorm: [Float]
    let attention: any SelfAttention
    let postAttentionNorm: [Float]
    public let feedForward: FeedForward

    /// The block's router and experts; nil for a dense layer.
    public var moe: MoELayer? { feedForward.moe }

    init(config: ModelConfig, inputNorm: [Float], attention: any SelfAttention, postAttentionNorm: [Float], feedForward: FeedForward) {
        self.config = config
        self.inputNorm = inputNorm
        self.attention = attention
        self.postAttentionNorm = postAttentionNorm
        self.feedForward = feedForward
    }

    func normalized(_ x: [Float], _ weight: [Float], tokens: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { normalize(input.baseAddress!, weight, tokens: tokens, into: $0.baseAddress!) }
        }
        return out
    }

    /// RMSNorm of each of `tokens` rows of `x` into `out`.
    func normalize(_ x: UnsafePointer<Float>, _ weight: [Float], tokens: Int, into out: UnsafeMutablePointer<Float>) {
        let d = config.hiddenSize
        for t in 0..<tokens { Kernels.rmsNorm(x + t * d, weight, config.rmsNormEps, out + t * d, d) }
    }

    /// h = x + m·Attn(RMSNorm(x)), in place on `scratch.hidden`.
    func attend(tokens: Int, start: Int, layer: Int, cache: KVCache, scratch: DecodeScratch) {
        normalize(scratch.hidden, inputNorm, tokens: tokens, into: scratch.normed)
        attention.forward(scratch.normed, tokens: tokens, start: start, layer: layer, cache: cache, into: scratch.sublayerOutput, scratch: scratch)
        addResidual(scratch.hidden, scratch.sublayerOutput, count: tokens * config.hiddenSize)
    }

    /// hidden += m·output. (m = 1 multiplies exactly, so other families are unchanged bit for bit.)
    func addResidual(_ hidden: UnsafeMutablePointer<Float>, _ output: UnsafePointer<Float>, count: Int) {
        let m = config.residualMultiplier
        for i in 0..<count { hidden[i] += output[i] * m }
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
