/// The whole model for training: the same blocks as `Transformer` (embed → [x + Attn(norm x);
/// x + MoE(norm x)] × L → norm → lm_head) over a batch of B sequences of T tokens, keeping every
/// activation the backward pass needs. Loss = mean cross-entropy + Σ_layers balance loss.
public final class TrainingModel<S: TrainingScalar> {
    public let store: ParameterStore<S>
    public let batch: Int
    public let length: Int
    public var config: ModelConfig { store.config }
    let attention: [AttentionTraining<S>]
    let moe: [MoETraining<S>]
    var rows: Int { batch * length }

    // Cached activations per layer: block input, after attention, and the two norms' outputs.
    var blockInputs: [Buffer<S>], middles: [Buffer<S>], attentionNormed: [Buffer<S>], moeNormed: [Buffer<S>]
    var attentionScales: [Buffer<S>], moeScales: [Buffer<S>]
    var finalInput: Buffer<S>, finalNormed: Buffer<S>, finalScale: Buffer<S>, probabilities: Buffer<S>
    var tokens: [Int] = [], targets: [Int] = []

    /// When set, `backward` adds Σ_t ‖∂ℓ_t/∂y_l‖²/d per layer here (y_l: MoE output; ℓ_t: token t's
    /// own loss, i.e. N × the mean loss's gradient) — AdapMoE's sensitivities.
    public var outputGradientSquares: [Double]?

    public private(set) var crossEntropy: S = 0
    public private(set) var balanceLoss: S = 0

    public init(store: ParameterStore<S>, batch: Int, length: Int, balanceCoefficient: Double = 0.01, tau: Double = 0.75) {
        let config = store.config
        precondition(config.numKeyValueHeads == config.numHeads, "the trainer implements attention without grouped KV heads")
        precondition(!config.multiplyInputByTopK && !config.twoLayerGate && !config.queryKeyNorm, "trainer: unsupported config variant")
        self.store = store
        self.batch = batch
        self.length = length
        let n = batch * length, d = config.hiddenSize
        attention = (0..<config.numLayers).map { AttentionTraining(config: config, layer: $0, batch: batch, length: length) }
        moe = (0..<config.numLayers).map { MoETraining(config: config, layer: $0, rows: n, balanceCoefficient: S(balanceCoefficient), zeroComputationBalanceWeight: S(tau)) }
        func buffers(_ size: Int) -> [Buffer<S>] { (0..<config.numLayers).map { _ in Buffer(size) } }
        blockInputs = buffers(n * d); middles = buffers(n * d); attentionNormed = buffers(n * d); moeNormed = buffers(n * d)
        attentionScales = buffers(n); moeScales = buffers(n)
        finalInput = Buffer(n * d); finalNormed = Buffer(n * d); finalScale = Buffer(n)
        probabilities = Buffer(n * config.vocabSize)
    }

    var names: TensorNames { TensorNames(family: config.family) }

    /// Forward pass; `tokens` and `targets` are B·T ids (targets are the next tokens). Returns the total loss.
    @discardableResult
    public func forward(tokens: [Int], targets: [Int]) -> S {
        precondition(tokens.count == rows && targets.count == rows)
        self.tokens = tokens
        self.targets = targets
        let (n, d, v) = (rows, config.hiddenSize, config.vocabSize)
        let x = Buffer<S>(n * d)
        let embedding = store.value(TensorNames.embedding)
        for (t, token) in tokens.enumerated() { (x.p + t * d).update(from: embedding + token * d, count: d) }
        let eps = S(config.rmsNormEps)
        let scratch = Buffer<S>(n * d)
        var previousLogits: Buffer<S>?
        balanceLoss = 0
        for l in 0..<config.numLayers {
            blockInputs[l].p.update(from: x.p, count: n * d)
            TrainingOps.rmsNorm(x.p, store.value(names.inputNorm(l)), attentionNormed[l].p, attentionScales[l].p, rows: n, width: d, eps: eps)
            attention[l].forward(attentionNormed[l].p, scratch.p, store)
            for i in 0..<(n * d) { x[i] += scratch[i] }
            middles[l].p.update(from: x.p, count: n * d)
            TrainingOps.rmsNorm(x.p, store.value(names.postAttentionNorm(l)), moeNormed[l].p, moeScales[l].p, rows: n, width: d, eps: eps)
            moe[l].forward(moeNormed[l].p, scratch.p, previousLogits: previousLogits, store)
            for i in 0..<(n * d) { x[i] += scratch[i] }
            previousLogits = moe[l].logits
            balanceLoss += moe[l].balanceLoss
        }
        finalInput.p.update(from: x.p, count: n * d)
        TrainingOps.rmsNorm(x.p, store.value(TensorNames.finalNorm), finalNormed.p, finalScale.p, rows: n, width: d, eps: eps)
        TrainingOps.linear(finalNormed.p, lmHead, probabilities.p, rows: n, inputs: d, outputs: v)
        TrainingOps.softmaxRows(probabilities.p, rows: n, width: v)
        var loss: S = 0
        for t in 0..<n { loss -= S(log(Double(max(probabilities[t * v + targets[t]], S.leastNormalMagnitude)))) }
        crossEntropy = loss / S(n)
        return crossEntropy + balanceLoss
    }

    var lmHead: UnsafeMutablePointer<S> {
        config.tieWordEmbeddings ? store.value(TensorNames.embedding) : store.value(TensorNames.lmHead)
    }
    var lmHeadGradient: UnsafeMutablePointer<S> {
        config.tieWordEmbeddings ? store.gradient(TensorNames.embedding) : store.gradient(TensorNames.lmHead)
    }

    /// Backward of the last `forward`, accumulating into `store.gradients`.
    public func backward() {
        let (n, d, v) = (rows, config.hiddenSize, config.vocabSize)
        // d(mean CE)/dlogits = (softmax − onehot)/N
        let dLogitsVocabulary = Buffer<S>(n * v)
        for t in 0..<n {
            for j in 0..<v { dLogitsVocabulary[t * v + j] = probabilities[t * v + j] / S(n) }
            dLogitsVocabulary[t * v + targets[t]] -= 1 / S(n)
        }
        let dNormed = Buffer<S>(n * d), dx = Buffer<S>(n * d)
        TrainingOps.linearBackward(finalNormed.p, lmHead, dLogitsVocabulary.p, dNormed.p, lmHeadGradient, rows: n, inputs: d, outputs: v)
        TrainingOps.rmsNormBackward(finalInput.p, store.value(TensorNames.finalNorm), finalScale.p, dNormed.p, dx.p,
                                    store.gradient(TensorNames.finalNorm), rows: n, width: d)
        let dRouterLogits = Buffer<S>(n * config.numExperts)
        let dBranch = Buffer<S>(n * d)
        for l in stride(from: config.numLayers - 1, through: 0, by: -1) {
            // x_out = middle + MoE(norm(middle))
            if outputGradientSquares != nil {
                var sum = 0.0
                for i in 0..<(n * d) { sum += Double(dx[i]) * Double(dx[i]) }
                outputGradientSquares![l] += sum * Double(n) * Double(n) / Double(d)
            }
            dBranch.zero()
            moe[l].backward(dx.p, dBranch.p, dLogits: dRouterLogits, store)
            TrainingOps.rmsNormBackward(middles[l].p, store.value(names.postAttentionNorm(l)), moeScales[l].p, dBranch.p, dx.p,
                                        store.gradient(names.postAttentionNorm(l)), rows: n, width: d)
            // middle = input + Attn(norm(input))
            dBranch.zero()
            attention[l].backward(dx.p, dBranch.p, store)
            TrainingOps.rmsNormBackward(blockInputs[l].p, store.value(names.inputNorm(l)), attentionScales[l].p, dBranch.p, dx.p,
                                        store.gradient(names.inputNorm(l)), rows: n, width: d)
        }
        let dEmbedding = store.gradient(TensorNames.embedding)
        for (t, token) in tokens.enumerated() {
            for j in 0..<d { dEmbedding[token * d + j] += dx[t * d + j] }
        }
    }
}

import Foundation
