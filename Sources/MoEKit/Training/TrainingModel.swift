/// The whole model for training: the same blocks as `Transformer` (embed → [x + Attn(norm x);
/// x + MoE(norm x)] × L → norm → lm_head) over a batch of B sequences of T tokens, keeping every
/// activation the backward pass needs. Loss = mean cross-entropy + Σ_layers balance loss.
public final class TrainingModel<S: TrainingScalar> {
    public let store: ParameterStore<S>
    public let batch: Int
    public let length: Int
    public var config: ModelConfig { store.config }
    let blocks: [TrainingBlock<S>]
    let head: TrainingHead<S>
    var rows: Int { batch * length }
    var tokens: [Int] = []
    var moe: [MoETraining<S>] { blocks.map(\.moe) }
    var probabilities: Buffer<S> { head.probabilities }

    /// When set, `backward` adds Σ_t ‖∂ℓ_t/∂y_l‖²/d per layer here (y_l: MoE output; ℓ_t: token t's
    /// own loss, i.e. N × the mean loss's gradient) — AdapMoE's sensitivities.
    public var outputGradientSquares: [Double]?

    public private(set) var crossEntropy: S = 0
    public private(set) var balanceLoss: S = 0

    /// The configuration must pass `TrainingBlock.unsupported` (callers check and throw).
    public init(store: ParameterStore<S>, batch: Int, length: Int, balanceCoefficient: Double = 0.01, tau: Double = 0.75) {
        let config = store.config
        precondition(TrainingBlock<S>.unsupported(config) == nil, "trainer: \(TrainingBlock<S>.unsupported(config) ?? "")")
        self.store = store
        self.batch = batch
        self.length = length
        blocks = (0..<config.numLayers).map {
            TrainingBlock(config: config, layer: $0, batch: batch, length: length, balanceCoefficient: S(balanceCoefficient), tau: S(tau))
        }
        head = TrainingHead(config: config, rows: batch * length)
    }

    /// Forward pass; `tokens` and `targets` are B·T ids (targets are the next tokens). Returns the total loss.
    @discardableResult
    public func forward(tokens: [Int], targets: [Int]) -> S {
        precondition(tokens.count == rows && targets.count == rows)
        self.tokens = tokens
        let x = Buffer<S>(rows * config.hiddenSize), scratch = Buffer<S>(rows * config.hiddenSize)
        TrainingHead.embed(tokens, into: x, store)
        var previousLogits: Buffer<S>?
        balanceLoss = 0
        for block in blocks {
            block.forward(x, scratch: scratch, previousLogits: previousLogits, store)
            previousLogits = block.moe.logits
            balanceLoss += block.moe.balanceLoss
        }
        crossEntropy = head.forward(x, targets: targets, store)
        return crossEntropy + balanceLoss
    }

    /// Backward of the last `forward`, accumulating into `store.gradients`.
    public func backward() {
        let (n, d) = (rows, config.hiddenSize)
        let dx = Buffer<S>(n * d)
        head.backward(into: dx, store)
        let dRouterLogits = Buffer<S>(n * config.numExperts)
        let dBranch = Buffer<S>(n * d)
        for block in blocks.reversed() {
            outputGradientSquares?[block.layer] += TrainingBlock.outputGradientSquares(dx, rows: n, width: d)
            block.backward(dx, dBranch: dBranch, dRouterLogits: dRouterLogits, store)
        }
        TrainingHead.embeddingBackward(tokens, dx, store)
    }
}
