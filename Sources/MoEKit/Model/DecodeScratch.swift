/// The buffers a forward pass works in, sized once from the config for `tokens` tokens: hidden
/// states, the attention's q/k/v and scores, the MoE layer's routing state, the logits and one
/// routing record per token and layer. A generator keeps one for one token and decodes every
/// token into it (`Transformer.decode`), so that a steady-state decode step allocates nothing
/// (with the exceptions `Transformer.decode` lists); a prompt batch (`Transformer.forward`) takes
/// a fresh one of its size.
///
/// The records are overwritten in place by the next step. Their arrays are values: an observer
/// that keeps a record (the TUI's history, a trace) holds its own, because the next step's write
/// then finds the buffer shared and copies it first. Only when nobody kept the last step's
/// records are they reused without a copy.
public final class DecodeScratch {
    public let tokens: Int
    /// The model dimensions it was sized for (`mismatch(_:)` checks them against a model's config).
    let hiddenSize: Int, queryDim: Int, keyValueDim: Int, vocabSize: Int, numLayers: Int
    /// Logits of the last token (or of every token when made for all logits), rows × vocab.
    public internal(set) var logits: [Float]
    /// Per token, per layer: what the routers did in the last pass.
    public internal(set) var routing: [[LayerRouting]]

    /// tokens × hidden: the residual stream, a normalised copy, a sublayer's output.
    let hidden: UnsafeMutablePointer<Float>
    let normed: UnsafeMutablePointer<Float>
    let sublayerOutput: UnsafeMutablePointer<Float>
    /// LongCat's shortcut MoE output, held for the next block (tokens × hidden).
    let shortcut: UnsafeMutablePointer<Float>
    var holdsShortcut = false
    /// q, k, v and the mixed heads of `tokens` tokens (Attention).
    let attention: UnsafeMutablePointer<Float>
    /// One row of attention scores per head of a decode token; grows with the context.
    private(set) var scores: UnsafeMutablePointer<Float>
    private var scoresCapacity = 0
    /// Multi-head latent attention's work space (MultiHeadLatentAttention.workCount).
    private var latent: UnsafeMutablePointer<Float>
    private var latentCapacity = 0
    /// The MoE layer's routing state, reused by every layer; `previousLogits` is the last MoE
    /// layer's `passedLogits` (swapped, not copied), valid while `hasPreviousLogits`.
    var routed = MoELayer.Routed()
    var previousLogits: [[Float]] = []
    var hasPreviousLogits = false
    private let width: Int

    /// `logitRows`: 1 (the last token's logits) or `tokens` (every token's).
    public init(config: ModelConfig, tokens: Int, logitRows: Int = 1) {
        precondition(tokens > 0 && (logitRows == 1 || logitRows == tokens))
        self.tokens = tokens
        (hiddenSize, queryDim, keyValueDim) = (config.hiddenSize, config.queryDim, config.keyValueDim)
        (vocabSize, numLayers) = (config.vocabSize, config.numLayers)
        width = tokens * config.hiddenSize
        hidden = .allocate(capacity: width)
        normed = .allocate(capacity: width)
        sublayerOutput = .allocate(capacity: width)
        shortcut = .allocate(capacity: width)
        attention = .allocate(capacity: tokens * (2 * config.queryDim + 2 * config.keyValueDim))
        scores = .allocate(capacity: 0)
        latent = .allocate(capacity: 0)
        logits = [Float](repeating: 0, count: logitRows * config.vocabSize)
        routing = (0..<tokens).map { _ in (0..<config.numLayers).map { LayerRouting(layer: $0) } }
    }

    deinit {
        for buffer in [hidden, normed, sublayerOutput, shortcut, attention, scores, latent] { buffer.deallocate() }
    }

    /// Why this scratch cannot serve a pass of `config`'s model, or nil when it can.
    func mismatch(_ config: ModelConfig) -> String? {
        // Tuples, not arrays: checked on every step, this must not allocate.
        let mine = (hiddenSize, queryDim, keyValueDim, vocabSize, numLayers)
        let theirs = (config.hiddenSize, config.queryDim, config.keyValueDim, config.vocabSize, config.numLayers)
        guard mine != theirs else { return nil }
        return "the scratch was made for (hidden, query, key-value, vocabulary, layers) = \(mine), the model has \(theirs)"
    }

    /// `rows` score rows of `length` each, stride `length`. Grown (doubling) when the context
    /// outgrows it: a few allocations over a whole generation, none per step. The pointer is
    /// valid only until the next call (which may move the rows).
    func scoreRows(_ rows: Int, length: Int) -> UnsafeMutablePointer<Float> {
        if rows * length > scoresCapacity {
            scoresCapacity = max(rows * length, 2 * scoresCapacity)
            scores.deallocate()
            scores = .allocate(capacity: scoresCapacity)
        }
        return scores
    }

    /// `count` floats of work space for latent attention: grown on first use, then the same
    /// buffer every step (valid until the next call).
    func latentWork(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > latentCapacity {
            latentCapacity = count
            latent.deallocate()
            latent = .allocate(capacity: count)
        }
        return latent
    }
}
