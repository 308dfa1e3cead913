/// Causal multi-head self-attention with RoPE, forward and backward (training; key/value heads
/// equal query heads). Per sequence b and head h, with Q, K, V the T×d_h slices:
///   S = Q·Kᵀ/√d_h (causal), P = softmax(S), O = P·V
///   dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS·K/√d_h, dK = dSᵀ·Q/√d_h
final class AttentionTraining<S: TrainingScalar> {
    let config: ModelConfig
    let layer: Int
    let names: TensorNames
    let batch: Int, length: Int
    var rows: Int { batch * length }
    // Cached forward values.
    var input: Buffer<S>, q: Buffer<S>, k: Buffer<S>, v: Buffer<S>, probabilities: Buffer<S>, mixed: Buffer<S>

    init(config: ModelConfig, layer: Int, batch: Int, length: Int) {
        self.config = config
        self.layer = layer
        names = TensorNames(family: config.family)
        self.batch = batch
        self.length = length
        let n = batch * length, d = config.hiddenSize
        input = Buffer(n * d); q = Buffer(n * d); k = Buffer(n * d); v = Buffer(n * d); mixed = Buffer(n * d)
        probabilities = Buffer(batch * config.numHeads * length * length)
    }

    func name(_ projection: String) -> String { names.attention(layer, projection) }

    /// out (N×d) = Attn(a); `a` is the normalised input.
    func forward(_ a: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, _ store: ParameterStore<S>) {
        let (n, d, heads, hd, t) = (rows, config.hiddenSize, config.numHeads, config.headDim, length)
        input.p.update(from: a, count: n * d)
        TrainingOps.linear(a, store.value(name("q_proj")), q.p, rows: n, inputs: d, outputs: d)
        TrainingOps.linear(a, store.value(name("k_proj")), k.p, rows: n, inputs: d, outputs: d)
        TrainingOps.linear(a, store.value(name("v_proj")), v.p, rows: n, inputs: d, outputs: d)
        TrainingOps.rope(q.p, rows: n, heads: heads, headDim: hd, theta: config.ropeTheta, position: { $0 % t })
        TrainingOps.rope(k.p, rows: n, heads: heads, headDim: hd, theta: config.ropeTheta, position: { $0 % t })
        let scale = 1 / S(hd).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let offset = b * t * d + h * hd
                let p = probabilities.p + (b * heads + h) * t * t
                S.gemm(transposeA: false, transposeB: true, m: t, n: t, k: hd, alpha: scale, q.p + offset, lda: d, k.p + offset, ldb: d, beta: 0, p, ldc: t)
                for i in 0..<t { for j in (i + 1)..<max(i + 1, t) { p[i * t + j] = -.infinity } }
                TrainingOps.softmaxRows(p, rows: t, width: t)
                S.gemm(transposeA: false, transposeB: false, m: t, n: hd, k: t, alpha: 1, p, lda: t, v.p + offset, ldb: d, beta: 0, mixed.p + offset, ldc: d)
            }
        }
        TrainingOps.linear(mixed.p, store.value(name("o_proj")), out, rows: n, inputs: d, outputs: d)
    }

    /// Accumulates parameter gradients and da += ∂L/∂a given dOut.
    func backward(_ dOut: UnsafePointer<S>, _ da: UnsafeMutablePointer<S>, _ store: ParameterStore<S>) {
        let (n, d, heads, hd, t) = (rows, config.hiddenSize, config.numHeads, config.headDim, length)
        let dMixed = Buffer<S>(n * d), dq = Buffer<S>(n * d), dk = Buffer<S>(n * d), dv = Buffer<S>(n * d)
        TrainingOps.linearBackward(mixed.p, store.value(name("o_proj")), dOut, dMixed.p, store.gradient(name("o_proj")), rows: n, inputs: d, outputs: d)
        let scale = 1 / S(hd).squareRoot()
        let dScores = Buffer<S>(t * t)
        for b in 0..<batch {
            for h in 0..<heads {
                let offset = b * t * d + h * hd
                let p = probabilities.p + (b * heads + h) * t * t
                let ds = dScores.p
                S.gemm(transposeA: false, transposeB: true, m: t, n: t, k: hd, alpha: 1, dMixed.p + offset, lda: d, v.p + offset, ldb: d, beta: 0, ds, ldc: t)
                S.gemm(transposeA: true, transposeB: false, m: t, n: hd, k: t, alpha: 1, p, lda: t, dMixed.p + offset, ldb: d, beta: 1, dv.p + offset, ldc: d)
                for i in 0..<t {
                    var dot: S = 0
                    for j in 0...i { dot += ds[i * t + j] * p[i * t + j] }
                    for j in 0...i { ds[i * t + j] = p[i * t + j] * (ds[i * t + j] - dot) }
                    for j in (i + 1)..<max(i + 1, t) { ds[i * t + j] = 0 }
                }
                S.gemm(transposeA: false, transposeB: false, m: t, n: hd, k: t, alpha: scale, ds, lda: t, k.p + offset, ldb: d, beta: 1, dq.p + offset, ldc: d)
                S.gemm(transposeA: true, transposeB: false, m: t, n: hd, k: t, alpha: scale, ds, lda: t, q.p + offset, ldb: d, beta: 1, dk.p + offset, ldc: d)
            }
        }
        TrainingOps.rope(dq.p, rows: n, heads: heads, headDim: hd, theta: config.ropeTheta, position: { $0 % t }, inverse: true)
        TrainingOps.rope(dk.p, rows: n, heads: heads, headDim: hd, theta: config.ropeTheta, position: { $0 % t }, inverse: true)
        TrainingOps.linearBackward(input.p, store.value(name("q_proj")), dq.p, da, store.gradient(name("q_proj")), rows: n, inputs: d, outputs: d)
        TrainingOps.linearBackward(input.p, store.value(name("k_proj")), dk.p, da, store.gradient(name("k_proj")), rows: n, inputs: d, outputs: d)
        TrainingOps.linearBackward(input.p, store.value(name("v_proj")), dv.p, da, store.gradient(name("v_proj")), rows: n, inputs: d, outputs: d)
    }
}
