import Foundation

/// Multi-head causal self-attention with grouped key/value heads, rotary positions and a KV cache.
/// Family variants: q/k/v biases (Qwen2-MoE); an RMSNorm on q and k before RoPE, over the whole
/// projections (OLMoE) or over each head with one head_dim weight (Qwen3-MoE); clipping (OLMoE);
/// a score scale other than 1/√d_head (Granite's `attention_multiplier`).
///   score(t, j) = s · q_t·k_j for j ≤ t, s = 1/√d_head unless the family says;
///   out_t = Σ_j softmax(score)_j · v_j
public struct Attention: Sendable {
    let config: ModelConfig
    let queryProjection: WeightMatrix
    let keyProjection: WeightMatrix
    let valueProjection: WeightMatrix
    let outputProjection: WeightMatrix
    let queryNorm: [Float]?
    let keyNorm: [Float]?
    /// q, k and v biases, or nil.
    let biases: (query: [Float], key: [Float], value: [Float])?
    let rotary: RotaryEmbedding

    init(config: ModelConfig, query: WeightMatrix, key: WeightMatrix, value: WeightMatrix, output: WeightMatrix,
         queryNorm: [Float]?, keyNorm: [Float]?, biases: (query: [Float], key: [Float], value: [Float])? = nil) {
        self.config = config
        queryProjection = query
        keyProjection = key
        valueProjection = value
        outputProjection = output
        self.queryNorm = queryNorm
        self.keyNorm = keyNorm
        self.biases = biases
        rotary = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta, pairing: config.rotaryPairing)
    }

    /// q, k, v = W_q·x, W_k·x, W_v·x for every token: one token's three products run as one
    /// parallel region (Kernels.matvecs); a batch takes one GEMM per matrix.
    func project(_ x: [Float], tokens: Int, _ queries: inout [Float], _ keys: inout [Float], _ values: inout [Float]) {
        x.withUnsafeBufferPointer { input in
            let input = input.baseAddress!
            guard tokens == 1 else {
                Kernels.matmul(queryProjection, input, tokens: tokens, &queries)
                Kernels.matmul(keyProjection, input, tokens: tokens, &keys)
                Kernels.matmul(valueProjection, input, tokens: tokens, &values)
                return
            }
            queries.withUnsafeMutableBufferPointer { q in
                keys.withUnsafeMutableBufferPointer { k in
                    values.withUnsafeMutableBufferPointer { v in
                        Kernels.matvecs([MatvecProduct(queryProjection, input, q.baseAddress!), MatvecProduct(keyProjection, input, k.baseAddress!),
                                         MatvecProduct(valueProjection, input, v.baseAddress!)])
                    }
                }
            }
        }
    }

    /// `x` holds `tokens` normalised hidden states at positions `start…`; their keys and values
    /// are appended to `cache` (which must have room). Returns tokens × hidden.
    func forward(_ x: [Float], tokens: Int, start: Int, layer: Int, cache: KVCache) -> [Float] {
        let (qDim, kvDim, headDim) = (config.queryDim, config.keyValueDim, config.headDim)
        var queries = [Float](repeating: 0, count: tokens * qDim)
        var keys = [Float](repeating: 0, count: tokens * kvDim)
        var values = [Float](repeating: 0, count: tokens * kvDim)
        project(x, tokens: tokens, &queries, &keys, &values)
        for t in 0..<tokens {
            queries.withUnsafeMutableBufferPointer { q in
                keys.withUnsafeMutableBufferPointer { k in
                    values.withUnsafeMutableBufferPointer { v in
                        let (qt, kt, vt) = (q.baseAddress! + t * qDim, k.baseAddress! + t * kvDim, v.baseAddress! + t * kvDim)
                        if let biases {
                            for i in 0..<qDim { qt[i] += biases.query[i] }
                            for i in 0..<kvDim { kt[i] += biases.key[i]; vt[i] += biases.value[i] }
                        }
                        if config.queryKeyNormPerHead {
                            if let queryNorm { for h in 0..<config.numHeads { Kernels.rmsNorm(qt + h * headDim, queryNorm, config.rmsNormEps, qt + h * headDim, headDim) } }
                            if let keyNorm { for h in 0..<config.numKeyValueHeads { Kernels.rmsNorm(kt + h * headDim, keyNorm, config.rmsNormEps, kt + h * headDim, headDim) } }
                        } else {
                            if let queryNorm { Kernels.rmsNorm(qt, queryNorm, config.rmsNormEps, qt, qDim) }
                            if let keyNorm { Kernels.rmsNorm(kt, keyNorm, config.rmsNormEps, kt, kvDim) }
                        }
                        if let clip = config.clipQKV {
                            for i in 0..<qDim { qt[i] = min(max(qt[i], -clip), clip) }
                            for i in 0..<kvDim { kt[i] = min(max(kt[i], -clip), clip); vt[i] = min(max(vt[i], -clip), clip) }
                        }
                        rotary.apply(qt, heads: config.numHeads, position: start + t)
                        rotary.apply(kt, heads: config.numKeyValueHeads, position: start + t)
                        cache.key(layer, start + t).update(from: kt, count: kvDim)
                        cache.value(layer, start + t).update(from: vt, count: kvDim)
                    }
                }
            }
        }
        var mixed = [Float](repeating: 0, count: tokens * qDim)
        let heads = config.numHeads
        let group = heads / config.numKeyValueHeads
        let scale = config.attentionScale ?? 1 / Float(headDim).squareRoot()
        let work = tokens * heads * (start + tokens) * headDim
        queries.withUnsafeBufferPointer { q in
            mixed.withUnsafeMutableBufferPointer { out in
                let (q, out) = (q.baseAddress!, out.baseAddress!)
                // Token t's heads cost ∝ start + t + 1 (the keys it sees). Items run in the token order
                // 0, T−1, 1, T−2, …, in which every two neighbours cost the same, so the pool's
                // equal contiguous chunks carry equal work (in token order, under the causal mask,
                // the core with the last tokens did about three quarters of it).
                Parallel.forChunks(tokens * heads, work: work) { range in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: start + tokens) { scores in
                        let scores = scores.baseAddress!
                        for item in range {
                            let (rank, h) = (item / heads, item % heads)
                            let t = rank % 2 == 0 ? rank / 2 : tokens - 1 - rank / 2
                            let visible = start + t + 1
                            let query = q + t * qDim + h * headDim
                            let kvOffset = (h / group) * headDim
                            for j in 0..<visible {
                                scores[j] = Kernels.dot(UnsafeRawPointer(cache.key(layer, j) + kvOffset), .f32, query, headDim) * scale
                            }
                            Kernels.softmax(scores, visible)
                            let target = out + t * qDim + h * headDim
                            for j in 0..<visible {
                                Kernels.addScaled(cache.value(layer, j) + kvOffset, scores[j], target, headDim)
                            }
                        }
                    }
                }
            }
        }
        var output = [Float](repeating: 0, count: tokens * config.hiddenSize)
        mixed.withUnsafeBufferPointer { Kernels.matmul(outputProjection, $0.baseAddress!, tokens: tokens, &output) }
        return output
    }
}
