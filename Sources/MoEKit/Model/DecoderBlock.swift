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

    /// Updates `hidden` (tokens × d) in place; returns the MoE layer's routing and passed-on logits.
    func forward(_ hidden: inout [Float], tokens: Int, start: Int, layer: Int, cache: KVCache,
                 previousLogits: [[Float]]?, controls: RoutingControls) -> MoELayer.Output {
        let attended = attention.forward(normalized(hidden, inputNorm, tokens: tokens), tokens: tokens, start: start, layer: layer, cache: cache)
        for i in hidden.indices { hidden[i] += attended[i] }
        let moeOutput = moe.forward(normalized(hidden, postAttentionNorm, tokens: tokens), tokens: tokens,
                                    previousLogits: previousLogits, controls: controls)
        for i in hidden.indices { hidden[i] += moeOutput.hidden[i] }
        return moeOutput
    }
}
