import Foundation

/// The ends of the training model: the embedding lookup, and final norm → lm_head → softmax →
/// mean cross-entropy, with their backward. Keeps what its backward needs for one batch.
final class TrainingHead<S: TrainingScalar> {
    let config: ModelConfig
    let rows: Int
    let weightGradients: Bool
    var finalInput: Buffer<S>, finalNormed: Buffer<S>, finalScale: Buffer<S>, probabilities: Buffer<S>
    var targets: [Int] = []

    init(config: ModelConfig, rows: Int, weightGradients: Bool = true) {
        self.config = config
        self.rows = rows
        self.weightGradients = weightGradients
        let (n, d) = (rows, config.hiddenSize)
        finalInput = Buffer(n * d); finalNormed = Buffer(n * d); finalScale = Buffer(n)
        probabilities = Buffer(n * config.vocabSize)
    }

    /// x (N×d): the embedding rows of `tokens`.
    static func embed(_ tokens: [Int], into x: Buffer<S>, _ store: ParameterStore<S>) {
        let d = store.config.hiddenSize, embedding = store.value(TensorNames.embedding)
        for (t, token) in tokens.enumerated() { (x.p + t * d).update(from: embedding + token * d, count: d) }
    }

    func lmHead(_ store: ParameterStore<S>) -> UnsafeMutablePointer<S> {
        config.tieWordEmbeddings ? store.value(TensorNames.embedding) : store.value(TensorNames.lmHead)
    }
    func gradient(_ name: String, _ store: ParameterStore<S>) -> UnsafeMutablePointer<S>? { weightGradients ? store.gradient(name) : nil }

    /// Mean cross-entropy of next tokens `targets` given the last block's output x (N×d, clobbered).
    func forward(_ x: Buffer<S>, targets: [Int], _ store: ParameterStore<S>) -> S {
        let (n, d, v) = (rows, config.hiddenSize, config.vocabSize)
        self.targets = targets
        finalInput.p.update(from: x.p, count: n * d)
        TrainingOps.rmsNorm(x.p, store.value(TensorNames.finalNorm), finalNormed.p, finalScale.p, rows: n, width: d, eps: S(config.rmsNormEps))
        TrainingOps.linear(finalNormed.p, lmHead(store), probabilities.p, rows: n, inputs: d, outputs: v)
        TrainingOps.softmaxRows(probabilities.p, rows: n, width: v)
        var loss: S = 0
        for t in 0..<n { loss -= S(log(Double(max(probabilities[t * v + targets[t]], S.leastNormalMagnitude)))) }
        return loss / S(n)
    }

    /// ∂(mean CE)/∂x for the last `forward`, into dx (N×d, overwritten).
    func backward(into dx: Buffer<S>, _ store: ParameterStore<S>) {
        let (n, d, v) = (rows, config.hiddenSize, config.vocabSize)
        // d(mean CE)/dlogits = (softmax − onehot)/N
        let dLogitsVocabulary = Buffer<S>(n * v)
        for t in 0..<n {
            for j in 0..<v { dLogitsVocabulary[t * v + j] = probabilities[t * v + j] / S(n) }
            dLogitsVocabulary[t * v + targets[t]] -= 1 / S(n)
        }
        let dNormed = Buffer<S>(n * d)
        dx.zero()
        let headGradient = gradient(config.tieWordEmbeddings ? TensorNames.embedding : TensorNames.lmHead, store)
        TrainingOps.linearBackward(finalNormed.p, lmHead(store), dLogitsVocabulary.p, dNormed.p, headGradient, rows: n, inputs: d, outputs: v)
        TrainingOps.rmsNormBackward(finalInput.p, store.value(TensorNames.finalNorm), finalScale.p, dNormed.p, dx.p,
                                    gradient(TensorNames.finalNorm, store), rows: n, width: d)
    }

    /// Accumulates the embedding gradient from dx = ∂L/∂(first block input).
    static func embeddingBackward(_ tokens: [Int], _ dx: Buffer<S>, _ store: ParameterStore<S>) {
        let d = store.config.hiddenSize, dEmbedding = store.gradient(TensorNames.embedding)
        for (t, token) in tokens.enumerated() {
            for j in 0..<d { dEmbedding[token * d + j] += dx[t * d + j] }
        }
    }
}
