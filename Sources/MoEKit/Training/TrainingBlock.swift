/// One decoder block for training, x ← x + Attn(norm x); x ← x + MoE(norm x), keeping the
/// activations its backward needs. `TrainingModel` chains them; the calibrator runs one layer
/// at a time over many batches (`LayerwiseCalibration`).
final class TrainingBlock<S: TrainingScalar> {
    let config: ModelConfig
    let layer: Int
    let names: TensorNames
    let attention: AttentionTraining<S>
    let moe: MoETraining<S>
    let weightGradients: Bool
    // The block input, after attention, the two norms' outputs and their per-row scales.
    let input: Buffer<S>, middle: Buffer<S>, attentionNormed: Buffer<S>, moeNormed: Buffer<S>
    let attentionScale: Buffer<S>, moeScale: Buffer<S>
    var rows: Int { attention.rows }

    init(config: ModelConfig, layer: Int, batch: Int, length: Int, balanceCoefficient: S, tau: S, weightGradients: Bool = true) {
        self.config = config
        self.layer = layer
        names = TensorNames(family: config.family)
        self.weightGradients = weightGradients
        let n = batch * length, d = config.hiddenSize
        attention = AttentionTraining(config: config, layer: layer, batch: batch, length: length, weightGradients: weightGradients)
        moe = MoETraining(config: config, layer: layer, rows: n, balanceCoefficient: balanceCoefficient,
                          zeroComputationBalanceWeight: tau, weightGradients: weightGradients)
        input = Buffer(n * d); middle = Buffer(n * d); attentionNormed = Buffer(n * d); moeNormed = Buffer(n * d)
        attentionScale = Buffer(n); moeScale = Buffer(n)
    }

    /// The trainer's attention covers these configurations; nil, or why not.
    static func unsupported(_ config: ModelConfig) -> String? {
        if config.numKeyValueHeads < 1 || config.numHeads % config.numKeyValueHeads != 0 {
            return "num_attention_heads \(config.numHeads) is not a multiple of num_key_value_heads \(config.numKeyValueHeads)"
        }
        if config.multiplyInputByTopK { return "the trainer does not implement mul-top-k routing" }
        if config.twoLayerGate { return "the trainer does not implement a two-layer gate" }
        if config.queryKeyNorm { return "the trainer does not implement query/key norms" }
        return nil
    }

    /// x (N×d) in place; `scratch` is N×d of anything; `previousLogits` is the previous block's
    /// `moe.logits` (nil for the first).
    func forward(_ x: Buffer<S>, scratch: Buffer<S>, previousLogits: Buffer<S>?, _ store: ParameterStore<S>) {
        let (n, d, eps) = (rows, config.hiddenSize, S(config.rmsNormEps))
        input.p.update(from: x.p, count: n * d)
        TrainingOps.rmsNorm(x.p, store.value(names.inputNorm(layer)), attentionNormed.p, attentionScale.p, rows: n, width: d, eps: eps)
        attention.forward(attentionNormed.p, scratch.p, store)
        for i in 0..<(n * d) { x[i] += scratch[i] }
        middle.p.update(from: x.p, count: n * d)
        TrainingOps.rmsNorm(x.p, store.value(names.postAttentionNorm(layer)), moeNormed.p, moeScale.p, rows: n, width: d, eps: eps)
        moe.forward(moeNormed.p, scratch.p, previousLogits: previousLogits, store)
        for i in 0..<(n * d) { x[i] += scratch[i] }
    }

    /// dx (N×d) enters as ∂L/∂(block output) and leaves as ∂L/∂(block input); `dBranch` is N×d
    /// scratch; `dRouterLogits` as in `MoETraining.backward`.
    func backward(_ dx: Buffer<S>, dBranch: Buffer<S>, dRouterLogits: Buffer<S>, _ store: ParameterStore<S>) {
        let (n, d) = (rows, config.hiddenSize)
        func gradient(_ name: String) -> UnsafeMutablePointer<S>? { weightGradients ? store.gradient(name) : nil }
        // x_out = middle + MoE(norm(middle))
        dBranch.zero()
        moe.backward(dx.p, dBranch.p, dLogits: dRouterLogits, store)
        TrainingOps.rmsNormBackward(middle.p, store.value(names.postAttentionNorm(layer)), moeScale.p, dBranch.p, dx.p,
                                    gradient(names.postAttentionNorm(layer)), rows: n, width: d)
        // middle = input + Attn(norm(input))
        dBranch.zero()
        attention.backward(dx.p, dBranch.p, store)
        TrainingOps.rmsNormBackward(input.p, store.value(names.inputNorm(layer)), attentionScale.p, dBranch.p, dx.p,
                                    gradient(names.inputNorm(layer)), rows: n, width: d)
    }

    /// Σ_t ‖∂ℓ_t/∂y‖²/d over the N rows, given dy = ∂L/∂y for the mean loss L (so ∂ℓ_t/∂y_t =
    /// N·dy_t): the numerator of AdapMoE's sensitivity F_l, with y the MoE output (∂L/∂y equals
    /// the gradient at the block output, through the residual).
    static func outputGradientSquares(_ dy: Buffer<S>, rows n: Int, width d: Int) -> Double {
        var sum = 0.0
        for i in 0..<(n * d) { sum += Double(dy[i]) * Double(dy[i]) }
        return sum * Double(n) * Double(n) / Double(d)
    }
}
