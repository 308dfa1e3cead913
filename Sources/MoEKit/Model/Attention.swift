import Foundation

/// A decoder block's attention: reads the normalised hidden states of `tokens` tokens at
/// positions `start…`, appends what it caches for them to `cache`, writes tokens × hidden into `out`.
/// q/k/v attention (Attention) and Multi-head Latent Attention implement it.
public protocol SelfAttention: Sendable {
    /// Writes tokens × hidden into `out`, working in `scratch` (sized for at least `tokens`).
    func forward(_ x: UnsafePointer<Float>, tokens: Int, start: Int, layer: Int, cache: KVCache,
                 into out: UnsafeMutablePointer<Float>, scratch: DecodeScratch)
    /// Bytes of its weight matrices (what one decode step reads besides the cache).
    var matrixBytes: Int { get }
}

/// Multi-head causal self-attention with grouped key/value heads, rotary positions and a KV cache.
/// Family variants: q/k/v biases (Qwen2-MoE); an RMSNorm on q and k before RoPE, over the whole
/// projections (OLMoE) or over each head with one head_dim weight (Qwen3-MoE); clipping (OLMoE);
/// a score scale other than 1/√d_head (Granite's `attention_multiplier`).
///   score(t, j) = s · q_t·k_j for j ≤ t, s = 1/√d_head unless the family says;
///   out_t = Σ_j softmax(score)_j · v_j
public struct Attention: SelfAttention {
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

    public var matrixBytes: Int {
        queryProjection.byteCount + keyProjection.byteCount + valueProjection.byteCount + outputProjection.byteCount
    }

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

    /// The pass on arrays, with a scratch of its own (tests, one-off calls).
    public func forward(_ x: [Float], tokens: Int, start: Int, layer: Int, cache: KVCache) -> [Float] {
        var out = [Float](repeating: 0, count: tokens * config.hiddenSize)
        let scratch = DecodeScratch(config: config, tokens: tokens)
        out.withUnsafeMutableBufferPointer { forward(x, tokens: tokens, start: start, layer: layer, cache: cache, into: $0.baseAddress!, scratch: scratch) }
        return out
    }

    /// q, k, v = W_q·x, W_k·x, W_v·x for every token: one token's three products run as one
    /// parallel region (Kernels.matvecs); a batch's three, one batch product (Kernels.matmuls).
    func project(_ x: UnsafePointer<Float>, tokens: Int, _ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>,
                 _ v: UnsafeMutablePointer<Float>) {
        guard tokens == 1 else {
            Kernels.matmuls(x, tokens: tokens, [MatmulTarget(queryProjection, q), MatmulTarget(keyProjection, k), MatmulTarget(valueProjection, v)])
            return
        }
        Kernels.matvecs(MatvecProduct(queryProjection, x, q), MatvecProduct(keyProjection, x, k), MatvecProduct(valueProjection, x, v))
    }

    /// One token's q, k, v after projection: biases, q/k norms, clipping, then RoPE at `position`.
    func prepare(_ qt: UnsafeMutablePointer<Float>, _ kt: UnsafeMutablePointer<Float>, _ vt: UnsafeMutablePointer<Float>, position: Int) {
        let (qDim, kvDim, headDim) = (config.queryDim, config.keyValueDim, config.headDim)
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
        rotary.apply(qt, heads: config.numHeads, position: position)
        rotary.apply(kt, heads: config.numKeyValueHeads, position: position)
    }

    /// `x` holds `tokens` normalised hidden states at positions `start…`; their keys and values
    /// are appended to `cache` (which must have room). Writes tokens × hidden into `out`; q, k, v
    /// and the mixed heads live in `scratch`.
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, start: Int, layer: Int, cache: KVCache,
                        into out: UnsafeMutablePointer<Float>, scratch: DecodeScratch) {
        precondition(tokens <= scratch.tokens, "attention: \(tokens) tokens, but the scratch was made for \(scratch.tokens)")
        let (qDim, kvDim) = (config.queryDim, config.keyValueDim)
        let queries = scratch.attention, keys = queries + tokens * qDim, values = keys + tokens * kvDim
        let mixed = values + tokens * kvDim
        mixed.initialize(repeating: 0, count: tokens * qDim)
        project(x, tokens: tokens, queries, keys, values)
        for t in 0..<tokens {
            let (qt, kt, vt) = (queries + t * qDim, keys + t * kvDim, values + t * kvDim)
            prepare(qt, kt, vt, position: start + t)
            cache.key(layer, start + t).update(from: kt, count: kvDim)
            cache.value(layer, start + t).update(from: vt, count: kvDim)
        }
        let scoreRows = tokens == 1 ? scratch.scoreRows(config.numHeads, length: start + 1) : nil
        mix(UnsafePointer(queries), tokens: tokens, start: start, layer: layer, cache: cache, into: mixed, scoreRows: scoreRows)
        Kernels.matmul(outputProjection, mixed, tokens: tokens, out)
    }

    /// out_t,h = Σ_{j ≤ start+t} softmax_j(s · q_t,h·k_j) · v_j for every token and head.
    /// One token (decode) with `scoreRows`: each head its row of scores, and the region's body a
    /// C function of a `HeadMix` (a closure would cost an allocation per step, see WorkerPool).
    func mix(_ q: UnsafePointer<Float>, tokens: Int, start: Int, layer: Int, cache: KVCache, into out: UnsafeMutablePointer<Float>,
             scoreRows: UnsafeMutablePointer<Float>? = nil) {
        let (headDim, heads) = (config.headDim, config.numHeads)
        let mixer = HeadMix(q: q, out: out, cache: cache, layer: layer, queryDim: config.queryDim, headDim: headDim,
                            group: heads / config.numKeyValueHeads, scale: config.attentionScale ?? 1 / Float(headDim).squareRoot(),
                            start: start, scoreRows: scoreRows)
        let work = tokens * heads * (start + tokens) * headDim
        if tokens == 1 && scoreRows != nil {
            withUnsafePointer(to: mixer) {
                Parallel.forChunks(heads, work: work, context: $0) { context, lower, upper in
                    let mixer = context.assumingMemoryBound(to: HeadMix.self).pointee
                    for h in lower..<upper { mixer.run(t: 0, h: h, visible: mixer.start + 1, scores: mixer.scoreRows! + h * (mixer.start + 1)) }
                }
            }
            return
        }
        Self.forEachQueryHead(tokens: tokens, heads: heads, start: start, work: work) { t, h, visible, scores in
            mixer.run(t: t, h: h, visible: visible, scores: scores)
        }
    }

    /// What one query head of one token reads and writes.
    struct HeadMix {
        let q: UnsafePointer<Float>
        let out: UnsafeMutablePointer<Float>
        let cache: KVCache
        let layer: Int, queryDim: Int, headDim: Int, group: Int
        let scale: Float
        let start: Int
        let scoreRows: UnsafeMutablePointer<Float>?

        func run(t: Int, h: Int, visible: Int, scores: UnsafeMutablePointer<Float>) {
            let query = q + t * queryDim + h * headDim
            let kvOffset = (h / group) * headDim
            // The head's keys are rows `cache.width` floats apart: all its scores are one f32
            // matrix–vector product (four positions per pass) instead of a dot call per position,
            // which made this loop 4 % of a 7B decode step.
            Kernels.f32Rows(UnsafeRawPointer(cache.key(layer, 0) + kvOffset), rowBytes: cache.width * 4, query, headDim, scores, count: visible)
            for j in 0..<visible { scores[j] *= scale }
            Kernels.softmax(scores, visible)
            let target = out + t * queryDim + h * headDim
            for j in 0..<visible {
                Kernels.addScaled(cache.value(layer, j) + kvOffset, scores[j], target, headDim)
            }
        }
    }
}

extension Attention {
    /// Runs `body(t, h, visible, scores)` for every query token t (position start + t, which sees
    /// `visible` positions) and head h, split across cores; each chunk has its own scratch of
    /// start + tokens scores (on the stack when it fits). Both attention kinds loop this way.
    /// Token t's heads cost ∝ start + t + 1 (the positions it sees). Items run in the token order
    /// 0, T−1, 1, T−2, …, in which every two neighbours cost the same, so the pool's equal
    /// contiguous chunks carry equal work (in token order, under the causal mask, the core with
    /// the last tokens did about three quarters of it).
    static func forEachQueryHead(tokens: Int, heads: Int, start: Int, work: Int,
                                 _ body: (_ t: Int, _ h: Int, _ visible: Int, _ scores: UnsafeMutablePointer<Float>) -> Void) {
        Parallel.forChunks(tokens * heads, work: work) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: start + tokens) { scores in
                for item in range {
                    let (rank, h) = (item / heads, item % heads)
                    let t = rank % 2 == 0 ? rank / 2 : tokens - 1 - rank / 2
                    body(t, h, start + t + 1, scores.baseAddress!)
                }
            }
        }
    }
}
