import Foundation
/// Causal multi-head self-attention with RoPE and grouped key/value heads, forward and backward
/// (training). Query head h reads key/value head h / (H / H_kv). Per sequence b and head h, with
/// Q, K, V the T×d_h slices:
///   S = Q·Kᵀ/√d_h (causal), P = softmax(S), O = P·V
///   dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS·K/√d_h, dK = dSᵀ·Q/√d_h
/// (dK and dV sum over the query heads of a group).
final class AttentionTraining<S: TrainingScalar> {
    let config: ModelConfig
    let layer: Int
    let names: TensorNames
    let batch: Int, length: Int
    /// Accumulate into the store's gradients; off when only activation gradients are wanted.
    let weightGradients: Bool
    var rows: Int { batch * length }
    // Cached forward values.
    var input: Buffer<S>, q: Buffer<S>, k: Buffer<S>, v: Buffer<S>, probabilities: Buffer<S>, mixed: Buffer<S>

    init(config: ModelConfig, layer: Int, batch: Int, length: Int, weightGradients: Bool = true) {
        self.config = config
        self.layer = layer
        names = TensorNames(family: config.family)
        self.batch = batch
        self.length = length
        self.weightGradients = weightGradients
        let n = batch * length
        input = Buffer(n * config.hiddenSize); q = Buffer(n * config.queryDim); mixed = Buffer(n * config.queryDim)
        k = Buffer(n * config.keyValueDim); v = Buffer(n * config.keyValueDim)
        probabilities = Buffer(batch * config.numHeads * length * length)
    }

    func name(_ projection: String) -> String { names.attention(layer, projection) }
    func gradient(_ projection: String, _ store: ParameterStore<S>) -> UnsafeMutablePointer<S>? {
        weightGradients ? store.gradient(name(projection)) : nil
    }

    /// Offsets of query head h's and its key/value head's slices in sequence b.
    func offsets(_ b: Int, _ h: Int) -> (query: Int, keyValue: Int) {
        let (t, hd) = (length, config.headDim)
        return (b * t * config.queryDim + h * hd, b * t * config.keyValueDim + h / (config.numHeads / config.numKeyValueHeads) * hd)
    }

    /// out (N×d) = Attn(a); `a` is the normalised input.
    func forward(_ a: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, _ store: ParameterStore<S>) {
        let (n, d, heads, hd, t) = (rows, config.hiddenSize, config.numHeads, config.headDim, length)
        let (qd, kvd) = (config.queryDim, config.keyValueDim)
        input.p.update(from: a, count: n * d)
        TrainingOps.linear(a, store.value(name("q_proj")), q.p, rows: n, inputs: d, outputs: qd)
        TrainingOps.linear(a, store.value(name("k_proj")), k.p, rows: n, inputs: d, outputs: kvd)
        TrainingOps.linear(a, store.value(name("v_proj")), v.p, rows: n, inputs: d, outputs: kvd)
        TrainingOps.rope(q.p, rows: n, heads: heads, headDim: hd, theta: config.ropeTheta, position: { $0 % t })
        TrainingOps.rope(k.p, rows: n, heads: config.numKeyValueHeads, headDim: hd, theta: config.ropeTheta, position: { $0 % t })
        let scale = 1 / S(hd).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let (qo, kvo) = offsets(b, h)
                let p = probabilities.p + (b * heads + h) * t * t
                S.gemm(transposeA: false, transposeB: true, m: t, n: t, k: hd, alpha: scale, q.p + qo, lda: qd, k.p + kvo, ldb: kvd, beta: 0, p, ldc: t)
                for i in 0..<t { for j in (i + 1)..<max(i + 1, t) { p[i * t + j] = -.infinity } }
                TrainingOps.softmaxRows(p, rows: t, width: t)
                S.gemm(transposeA: false, transposeB: false, m: t, n: hd, k: t, alpha: 1, p, lda: t, v.p + kvo, ldb: kvd, beta: 0, mixed.p + qo, ldc: qd)
            }
        }
        TrainingOps.linear(mixed.p, store.value(name("o_proj")), out, rows: n, inputs: qd, outputs: d)
    }

    /// Accumulates parameter gradients (if on) and da += ∂L/∂a given dOut.
    func backward(_ dOut: UnsafePointer<S>, _ da: UnsafeMutablePointer<S>, _ store: ParameterStore<S>) {
        let (n, d, heads, hd, t) = (rows, config.hiddenSize, config.numHeads, config.headDim, length)
        let (qd, kvd) = (config.queryDim, config.keyValueDim)
        let dMixed = Buffer<S>(n * qd), dq = Buffer<S>(n * qd), dk = Buffer<S>(n * kvd), dv = Buffer<S>(n * kvd)
        TrainingOps.linearBackward(mixed.p, store.value(name("o_proj")), dOut, dMixed.p, gradient("o_proj", store), rows: n, inputs: qd, outputs: d)
        let scale = 1 / S(hd).squareRoot()
        let dScores = Buffer<S>(t * t)
        for b in 0..<batch {
            for h in 0..<heads {
                let (qo, kvo) = offsets(b, h)
                let p = probabilities.p + (b * heads + h) * t * t
                let ds = dScores.p
                S.gemm(transposeA: false, transposeB: true, m: t, n: t, k: hd, alpha: 1, dMixed.p + qo, lda: qd, v.p + kvo, ldb: kvd, beta: 0, ds, ldc: t)
                S.gemm(transposeA: true, transposeB: false, m: t, n: hd, k: t, alpha: 1, p, lda: t, dMixed.p + qo, ldb: qd, beta: 1, dv.p + kvo, ldc: kvd)
                for i in 0..<t {
                    var dot: S = 0
                    for j in 0...i { dot += ds[i * t + j] * p[i * t + j] }
                    for j in 0...i { ds[i * t + j] = p[i * t + j] * (ds[i * t + j] - dot) }
                    for j in (i + 1)..<max(i + 1, t) { ds[i * t + j] = 0 }
                }
                S.gemm(transposeA: false, transposeB: false, m: t, n: hd, k: t, alpha: scale, ds, lda: t, k.p + kvo, ldb: kvd, beta: 1, dq.p + qo, ldc: qd)
                S.gemm(transposeA: true, transposeB: false, m: t, n: hd, k: t, alpha: scale, ds, lda: t, q.p + qo, ldb: qd, beta: 1, dk.p + kvo, ldc: kvd)
            }
        }
        TrainingOps.rope(dq.p, rows: n, heads: heads, headDim: hd, theta: config.ropeTheta, position: { $0 % t }, inverse: true)
        TrainingOps.rope(dk.p, rows: n, heads: config.numKeyValueHeads, headDim: hd, theta: config.ropeTheta, position: { $0 % t }, inverse: true)
        TrainingOps.linearBackward(input.p, store.value(name("q_proj")), dq.p, da, gradient("q_proj", store), rows: n, inputs: d, outputs: qd)
        TrainingOps.linearBackward(input.p, store.value(name("k_proj")), dk.p, da, gradient("k_proj", store), rows: n, inputs: d, outputs: kvd)
        TrainingOps.linearBackward(input.p, store.value(name("v_proj")), dv.p, da, gradient("v_proj", store), rows: n, inputs: d, outputs: kvd)
    }
}
