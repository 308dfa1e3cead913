import Foundation

/// Multi-head Latent Attention's dimensions (DeepSeek-V2/V3's `q_lora_rank`, `kv_lora_rank`,
/// `qk_nope_head_dim`, `qk_rope_head_dim`, `v_head_dim`).
public struct LatentAttentionShape: Sendable, Equatable {
    /// q through a rank-r bottleneck (q_a_proj → RMSNorm → q_b_proj); nil = one q_proj.
    public var queryRank: Int?
    public var kvRank: Int
    public var nopeDim: Int
    public var ropeDim: Int
    public var valueDim: Int
    /// LongCat-Flash multiplies q by √(d/r_q) and the normalised kv latent by √(d/r_kv); 1 for DeepSeek.
    public var loraScales: (query: Float, kv: Float) = (1, 1)

    public var queryKeyDim: Int { nopeDim + ropeDim }
    /// The latent KV cache keeps, per token and layer, the normalised compressed kv and the one
    /// rotary key all heads share: r_kv + d_rope floats (instead of 2·H·d_head).
    public var latentCacheWidth: Int { kvRank + ropeDim }

    public static func == (a: Self, b: Self) -> Bool {
        a.queryRank == b.queryRank && a.kvRank == b.kvRank && a.nopeDim == b.nopeDim && a.ropeDim == b.ropeDim
            && a.valueDim == b.valueDim && a.loraScales == b.loraScales
    }
}

/// MLA's up-projections of the latent: W_kb,h (r_kv → d_nope keys) and W_vb,h (r_kv → d_v values)
/// for each head h.
public enum LatentUpProjection: Sendable {
    /// transformers' kv_b_proj: per head, d_nope key rows then d_v value rows, each r_kv wide.
    case joint(WeightMatrix)
    /// llama.cpp's split (`attn_k_b`, `attn_v_b`): per head W_kb,hᵀ (r_kv rows of d_nope) and
    /// W_vb,h (d_v rows of r_kv).
    case split(keysTransposed: WeightMatrix, values: WeightMatrix)

    var matrixBytes: Int {
        switch self {
        case .joint(let m): return m.byteCount
        case .split(let k, let v): return k.byteCount + v.byteCount
        }
    }

    /// W_vb,h: d_v rows of r_kv.
    func valueRows(head h: Int, shape: LatentAttentionShape) -> WeightMatrix {
        let (nope, v) = (shape.nopeDim, shape.valueDim)
        switch self {
        case .joint(let m): return m.rowSlice(h * (nope + v) + nope..<(h + 1) * (nope + v))
        case .split(_, let values): return values.rowSlice(h * v..<(h + 1) * v)
        }
    }
}

/// Multi-head Latent Attention (DeepSeek-V2 §2.1), as transformers 4.57's DeepseekV2/V3Attention
/// computes it, but over a latent KV cache. Per token x at position p, head h:
///   q_h = [q_h^nope ; RoPE_p(q_h^rope)] = rows of W_qb·RMSNorm(W_qa·x)   (or W_q·x)
///   [c ; k^rope] = W_kva·x;  c ← RMSNorm(c);  k^rope ← RoPE_p(k^rope)      → cached (r_kv + d_rope)
///   k_h^nope = W_kb,h·c,  v_h = W_vb,h·c   (W_kb,h and W_vb,h: head h's rows of kv_b_proj)
///   score_j = s·(q_h^nope·k_h,j^nope + q_h^rope·k_j^rope),  s = 1/√(d_nope + d_rope) · m²
///           = s·((W_kb,hᵀ q_h^nope)·c_j + q_h^rope·k_j^rope)           (W_kb absorbed into q)
///   o_h = Σ_j softmax(score)_j v_h,j = W_vb,h·(Σ_j softmax(score)_j c_j)  (W_vb applied once)
///   out = W_o·[o_1 … o_H]
/// m = YaRN's m(s, mscale_all_dim), 1 without YaRN. Absorbing W_kb and W_vb is exact algebra, so
/// nothing per head is ever expanded for the cached tokens.
public struct MultiHeadLatentAttention: SelfAttention {
    let config: ModelConfig
    let shape: LatentAttentionShape
    /// q_a_proj and q_a_layernorm when q goes through its low rank.
    let queryDown: WeightMatrix?
    let queryNorm: [Float]?
    /// q_b_proj (or q_proj): H·(d_nope + d_rope) rows.
    let queryUp: WeightMatrix
    /// kv_a_proj_with_mqa: r_kv + d_rope rows.
    let kvDown: WeightMatrix
    let kvNorm: [Float]
    /// W_kb and W_vb, joint or split (`LatentUpProjection`).
    let kvUp: LatentUpProjection
    let output: WeightMatrix
    let rotary: RotaryEmbedding
    let scale: Float
    /// The references build q_a_layernorm and kv_a_layernorm with RMSNorm's default ε, not rms_norm_eps.
    static let latentNormEpsilon: Float = 1e-6

    public var matrixBytes: Int {
        (queryDown?.byteCount ?? 0) + queryUp.byteCount + kvDown.byteCount + kvUp.matrixBytes + output.byteCount
    }

    init(config: ModelConfig, shape: LatentAttentionShape, queryDown: WeightMatrix?, queryNorm: [Float]?, queryUp: WeightMatrix,
         kvDown: WeightMatrix, kvNorm: [Float], kvUp: LatentUpProjection, output: WeightMatrix) {
        self.config = config
        self.shape = shape
        self.queryDown = queryDown
        self.queryNorm = queryNorm
        self.queryUp = queryUp
        self.kvDown = kvDown
        self.kvNorm = kvNorm
        self.kvUp = kvUp
        self.output = output
        rotary = RotaryEmbedding(headDim: shape.ropeDim, theta: config.ropeTheta, pairing: config.rotaryPairing, yarn: config.yarn)
        scale = 1 / Float(shape.queryKeyDim).squareRoot() * Float(config.yarn?.softmaxScaleFactor ?? 1)
    }

    /// The protocol's pass: `latentForward` in the scratch's latent work space (grown once,
    /// then reused), its result written straight into `out`, so a decode step allocates nothing.
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, start: Int, layer: Int, cache: KVCache,
                        into out: UnsafeMutablePointer<Float>, scratch: DecodeScratch) {
        precondition(tokens <= scratch.tokens, "attention: \(tokens) tokens, but the scratch was made for \(scratch.tokens)")
        let work = scratch.latentWork(workCount(tokens: tokens))
        // A decode token's score rows (one per head) come from the scratch too; a prompt's
        // tokens × heads rows would be too many to keep, so its chunks take temporaries.
        let rows = tokens == 1 ? scratch.scoreRows(config.numHeads, length: start + 1) : nil
        latentForward(x, tokens: tokens, start: start, layer: layer, cache: cache, into: out, work: work, scoreRows: rows)
    }

    /// The buffers `latentForward` carves out of its work space, in floats, for `tokens` tokens.
    private struct WorkLayout {
        var queries = 0, latents = 0, compressed = 0, absorbed = 0, mixedLatents = 0, mixed = 0
        var headValues = 0, headQueries = 0, headAbsorbed = 0, row = 0, total = 0

        init(_ shape: LatentAttentionShape, heads: Int, tokens: Int) {
            // Each buffer starts where the one before ends (no arrays: this runs every step).
            var next = 0
            func take(_ count: Int) -> Int { defer { next += count }; return next }
            queries = take(tokens * heads * shape.queryKeyDim)
            latents = take(tokens * shape.latentCacheWidth)
            compressed = take(tokens * (shape.queryRank ?? 0))
            absorbed = take(tokens * heads * shape.kvRank)
            mixedLatents = take(heads * tokens * shape.kvRank)
            mixed = take(tokens * heads * shape.valueDim)
            headValues = take(tokens * shape.valueDim)
            headQueries = take(tokens * shape.nopeDim)
            headAbsorbed = take(tokens * shape.kvRank)
            row = take(shape.kvRank)
            total = next
        }
    }

    func workCount(tokens: Int) -> Int { WorkLayout(shape, heads: config.numHeads, tokens: tokens).total }

    /// One pass over `tokens` tokens from position `start` into `out` (tokens × hidden), in
    /// `work` (`workCount(tokens:)` floats). `scoreRows`, when given, holds one score row per
    /// token and head (start + tokens floats each).
    func latentForward(_ x: UnsafePointer<Float>, tokens: Int, start: Int, layer: Int, cache: KVCache,
                       into out: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>, scoreRows: UnsafeMutablePointer<Float>?) {
        let (heads, nope, ropeDim, valueDim, rank) = (config.numHeads, shape.nopeDim, shape.ropeDim, shape.valueDim, shape.kvRank)
        let qk = shape.queryKeyDim
        let latentWidth = shape.latentCacheWidth
        let layout = WorkLayout(shape, heads: heads, tokens: tokens)
        let queries = work + layout.queries, latents = work + layout.latents
        if let queryDown, let queryNorm, let r = shape.queryRank {
            let compressed = work + layout.compressed
            Kernels.matmul(queryDown, x, tokens: tokens, compressed)
            for t in 0..<tokens { Kernels.rmsNorm(compressed + t * r, queryNorm, Self.latentNormEpsilon, compressed + t * r, r) }
            Kernels.matmul(queryUp, compressed, tokens: tokens, queries)
        } else {
            Kernels.matmul(queryUp, x, tokens: tokens, queries)
        }
        Kernels.matmul(kvDown, x, tokens: tokens, latents)
        if shape.loraScales.query != 1 { for i in 0..<tokens * heads * qk { queries[i] *= shape.loraScales.query } }
        for t in 0..<tokens {
            let row = latents + t * latentWidth
            Kernels.rmsNorm(row, kvNorm, Self.latentNormEpsilon, row, rank)
            if shape.loraScales.kv != 1 { for i in 0..<rank { row[i] *= shape.loraScales.kv } }
            rotary.apply(row + rank, heads: 1, position: start + t)
            cache.key(layer, start + t).update(from: row, count: latentWidth)
            for h in 0..<heads { rotary.apply(queries + (t * heads + h) * qk + nope, heads: 1, position: start + t) }
        }
        let absorbed = work + layout.absorbed
        absorbKeyProjection(queries, tokens: tokens, into: absorbed, work: work, layout: layout)
        // Per head, per token: Σ_j softmax(score)_j c_j, laid out [head][token][r_kv] for the value product.
        let mixedLatents = work + layout.mixedLatents
        mixedLatents.update(repeating: 0, count: heads * tokens * rank)
        let cost = tokens * heads * (start + tokens) * (rank + ropeDim)
        let mixer = LatentHeadMix(absorbed: absorbed, queries: queries, out: mixedLatents, cache: cache, layer: layer, heads: heads,
                                  tokens: tokens, queryKeyDim: qk, nope: nope, rank: rank, ropeDim: ropeDim, scale: scale)
        if let scoreRows, tokens == 1 {
            // A decode token: one scratch score row per head, and the region's body a C function
            // of the mixer (a closure region costs an allocation, see WorkerPool).
            let decode = (mixer: mixer, rows: scoreRows, visible: start + 1)
            withUnsafePointer(to: decode) {
                Parallel.forChunks(heads, work: cost, context: $0) { context, lower, upper in
                    let decode = context.assumingMemoryBound(to: (mixer: LatentHeadMix, rows: UnsafeMutablePointer<Float>, visible: Int).self).pointee
                    for h in lower..<upper { decode.mixer.run(t: 0, h: h, visible: decode.visible, scores: decode.rows + h * decode.visible) }
                }
            }
        } else {
            Attention.forEachQueryHead(tokens: tokens, heads: heads, start: start, work: cost) { t, h, visible, scores in
                mixer.run(t: t, h: h, visible: visible, scores: scores)
            }
        }
        let mixed = work + layout.mixed, headValues = work + layout.headValues
        for h in 0..<heads {
            Kernels.matmul(kvUp.valueRows(head: h, shape: shape), mixedLatents + h * tokens * rank, tokens: tokens, headValues)
            for t in 0..<tokens { (mixed + (t * heads + h) * valueDim).update(from: headValues + t * valueDim, count: valueDim) }
        }
        Kernels.matmul(output, mixed, tokens: tokens, out)
    }

    /// One query head of one token over the latent cache: score_j = s·(q̃_h·c_j + q_h^rope·k_j^rope),
    /// softmax, and Σ_j p_j c_j into the head's row of `out` ([head][token][r_kv]).
    struct LatentHeadMix {
        let absorbed: UnsafePointer<Float>, queries: UnsafePointer<Float>
        let out: UnsafeMutablePointer<Float>
        let cache: KVCache
        let layer: Int, heads: Int, tokens: Int, queryKeyDim: Int, nope: Int, rank: Int, ropeDim: Int
        let scale: Float

        func run(t: Int, h: Int, visible: Int, scores: UnsafeMutablePointer<Float>) {
            let queryLatent = absorbed + (t * heads + h) * rank
            let queryRope = queries + (t * heads + h) * queryKeyDim + nope
            for j in 0..<visible {
                let cached = UnsafeRawPointer(cache.key(layer, j))
                scores[j] = (Kernels.dot(cached, .f32, queryLatent, rank)
                    + Kernels.dot(cached + rank * MemoryLayout<Float>.stride, .f32, queryRope, ropeDim)) * scale
            }
            Kernels.softmax(scores, visible)
            let target = out + (h * tokens + t) * rank
            for j in 0..<visible { Kernels.addScaled(cache.key(layer, j), scores[j], target, rank) }
        }
    }

    /// W_kb,hᵀ q_h^nope for every token and head into `absorbed`: [token][head][r_kv].
    private func absorbKeyProjection(_ queries: UnsafePointer<Float>, tokens: Int, into absorbed: UnsafeMutablePointer<Float>,
                                     work: UnsafeMutablePointer<Float>, layout: WorkLayout) {
        let (heads, nope, rank, qk) = (config.numHeads, shape.nopeDim, shape.kvRank, shape.queryKeyDim)
        let kvUp: WeightMatrix
        switch self.kvUp {
        case .joint(let joint): kvUp = joint
        case .split(let keysTransposed, _):
            // W_kb,hᵀ is stored: one product per head over the tokens' q_h^nope.
            let headQueries = work + layout.headQueries, headAbsorbed = work + layout.headAbsorbed
            for h in 0..<heads {
                for t in 0..<tokens { (headQueries + t * nope).update(from: queries + (t * heads + h) * qk, count: nope) }
                Kernels.matmul(keysTransposed.rowSlice(h * rank..<(h + 1) * rank), headQueries, tokens: tokens, headAbsorbed)
                for t in 0..<tokens { (absorbed + (t * heads + h) * rank).update(from: headAbsorbed + t * rank, count: rank) }
            }
            return
        }
        // kv_b_proj holds W_kb,h itself: each key row is widened once and added, scaled by the
        // matching q element, into every token's sum.
        absorbed.update(repeating: 0, count: tokens * heads * rank)
        let row = work + layout.row
        for h in 0..<heads {
            for i in 0..<nope {
                kvUp.copyRow(h * (nope + shape.valueDim) + i, into: row)
                for t in 0..<tokens {
                    Kernels.addScaled(row, queries[(t * heads + h) * qk + i], absorbed + (t * heads + h) * rank, rank)
                }
            }
        }
    }
}
