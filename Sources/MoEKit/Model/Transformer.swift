import Foundation

/// A whole decoder-only MoE model over a checkpoint's mapped weights:
/// embed → blocks (attention + dense or MoE feed-forward, gating residual threaded through) →
/// final RMSNorm → lm_head.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: CheckpointWeights
    let embedding: WeightMatrix
    public let blocks: [DecoderBlock]
    let finalNorm: [Float]
    let lmHead: WeightMatrix
    /// When set, forward passes add their attention and MoE wall time here.
    public var timings: LayerTimings?
    /// When set, FFN experts come from this bounded cache (read from disk) instead of the mapping.
    public var expertCache: ExpertCache? {
        didSet { if expertCache != nil { weights.files.forEach { $0.adviseRandomAccess() } } }
    }
    /// Predict each layer's experts from the previous layer (AdapMoE prefetching): recorded in
    /// the routing records and `predictionStatistics`, and, with an `expertCache`, prefetched.
    public var expertPrediction = false
    public var predictionStatistics: PredictionStatistics

    /// Loads a model path (see `ModelSource`): a checkpoint directory (config.json + weights) or
    /// a `.gguf` file (or a directory holding one); `loading`: mapped or copied (`WeightLoading`).
    /// `interleaving`: which block-format matrices are rewritten into rows8 groups at load (`RowInterleaving`).
    public convenience init(directory: String, loading: WeightLoading = .mapped, interleaving: RowInterleaving = .current) throws {
        let source = try ModelSource(path: directory, loading: loading)
        try self.init(source: source, interleaving: interleaving)
    }

    public convenience init(source: ModelSource, interleaving: RowInterleaving = .current) throws {
        let config = try source.config()
        let weights = try source.weights(config: config)
        weights.interleaving = interleaving
        try self.init(config: config, weights: weights)
    }

    public init(config: ModelConfig, weights: CheckpointWeights) throws {
        self.config = config
        self.weights = weights
        let names = TensorNames(family: config.family)
        let (d, v) = (config.hiddenSize, config.vocabSize)
        // Looked up a row at a time: row-major (a tied head gets its own interleaved view below).
        embedding = try weights.matrix(TensorNames.embedding, rows: v, cols: d, interleave: false)
        if config.tieWordEmbeddings && !weights.contains(TensorNames.lmHead) {
            lmHead = try weights.matrix(TensorNames.embedding, rows: v, cols: d)
        } else {
            lmHead = try weights.matrix(TensorNames.lmHead, rows: v, cols: d)
        }
        finalNorm = try weights.vector(TensorNames.finalNorm, count: d)
        // Checked before any per-layer allocation: a config claiming a billion layers must fail
        // here, and one claiming fewer than stored must not silently run a truncated model.
        let sublayers = config.family.architecture.sublayersPerLayer
        guard weights.layerCount * sublayers == config.numLayers else {
            throw CheckpointError.badKey("num_hidden_layers", file: weights.configFile,
                                         "\(config.numLayers) layers, but the checkpoint holds \(weights.layerCount * sublayers)")
        }
        blocks = try (0..<config.numLayers).map { l in try Self.loadBlock(l, config: config, weights: weights, names: names) }
        predictionStatistics = PredictionStatistics(layers: config.numLayers)
    }

    static func loadBlock(_ l: Int, config: ModelConfig, weights: CheckpointWeights, names: TensorNames) throws -> DecoderBlock {
        let d = config.hiddenSize
        let attention = try config.family.architecture.buildAttention(layer: l, config: config, weights: weights)
        let feedForward = try config.family.architecture.buildFeedForward(layer: l, config: config, weights: weights)
        return DecoderBlock(config: config, inputNorm: try weights.vector(names.inputNorm(l), count: d), attention: attention,
                            postAttentionNorm: try weights.vector(names.postAttentionNorm(l), count: d), feedForward: feedForward)
    }

    /// Touches every page of the mapped checkpoint, so that timings measure compute and memory,
    /// not first-touch page faults.
    /// With an expert cache, the experts' pages are left alone: they are the cache's to read; so
    /// are those of matrices interleaved into copies at load (nothing reads them there).
    public func warmUp() {
        var sum: UInt8 = 0
        for (index, file) in weights.files.enumerated() {
            let interleaved = weights.interleavedRanges.filter { $0.file === file }.map(\.range)
            let skipped = (expertCache?.store.expertRanges(file: index) ?? []) + interleaved
            var offset = 0
            while offset < file.size {
                if let range = skipped.first(where: { $0.contains(offset) }) { offset = (range.upperBound + 4095) & ~4095; continue }
                sum &+= file.base.load(fromByteOffset: offset, as: UInt8.self)
                offset += 4096
            }
        }
        if sum == 1 { print("", terminator: "") }   // keeps the reads
    }

    /// FFN experts of layer `l`: from the mapping; or from the cache, under `lease` when the
    /// layer's experts fit at once, else one expert at a time.
    private func expertAccess(layer l: Int, moe: MoELayer, lease: ExpertCache.Lease?) -> MoELayer.ExpertAccess {
        guard let cache = expertCache else { return .mapped(moe.ffnExperts) }
        if let lease { return MoELayer.ExpertAccess(acquire: { try lease.expert($0) }, release: { _ in }, holdsSeveral: true) }
        final class Current { var lease: ExpertCache.Lease? }
        let current = Current()
        return MoELayer.ExpertAccess(
            acquire: { e in
                current.lease = cache.lease(layer: l, experts: [e])
                return try current.lease!.expert(e)
            },
            release: { _ in current.lease?.release(); current.lease = nil })
    }

    public func makeCache() -> KVCache {
        KVCache(layers: config.numLayers, width: config.cacheWidths.key, valueWidth: config.cacheWidths.value, maximumLength: config.maxPositionEmbeddings)
    }

    public struct Output {
        /// Logits of the last token (or of every token with `allLogits`), rows × vocab.
        public var logits: [Float]
        /// Per token, per layer.
        public var routing: [[LayerRouting]]
    }

    public enum ForwardError: Error, CustomStringConvertible {
        case contextFull(Int)
        case noTokens
        case tokenOutOfRange(Int, position: Int, vocabulary: Int)

        public var description: String {
            switch self {
            case .contextFull(let n): return "context full: the model takes at most \(n) positions"
            case .noTokens: return "no tokens to run"
            case let .tokenOutOfRange(id, position, vocabulary): return "token id \(id) at position \(position) is outside the vocabulary (0..<\(vocabulary))"
            }
        }
    }

    /// A MoE layer's pass over `scratch.normed`: route (records into `scratch.routing[t][l]`), read
    /// the chosen experts (from the mapping or the expert cache), predict and prefetch the next
    /// layer's experts, run the experts. The output is left in `scratch.routed.hidden`.
    private func runMoE(_ moe: MoELayer, layer l: Int, tokens count: Int, controls: RoutingControls,
                        predictions: inout [Set<Int>]?, scratch: DecodeScratch) throws {
        let normed = UnsafePointer(scratch.normed)
        let previous = scratch.hasPreviousLogits ? scratch.previousLogits : nil
        moe.route(normed, tokens: count, previousLogits: previous, controls: controls, into: &scratch.routed, records: &scratch.routing, slot: l)
        if let guesses = predictions {
            for t in 0..<count {
                scratch.routing[t][l].predictedExperts = guesses[t].sorted()
                predictionStatistics.record(layer: l, actual: Set(scratch.routing[t][l].computedFFNExperts), predicted: guesses[t])
            }
        }
        let lease = expertCache.flatMap { $0.lease(layer: l, experts: scratch.routed.ffnExpertsNeeded) }
        // This layer's misses first, so that the next layer's prefetches do not queue in front
        // of reads the compute thread is waiting for; the prefetches then overlap this layer's
        // expert compute and the next layer's attention.
        try lease?.readMisses()
        predictions = nil
        if expertPrediction && l + 1 < blocks.count,
           let guesses = ExpertPrediction.predict(next: blocks[l + 1], hidden: Array(UnsafeBufferPointer(start: scratch.hidden, count: count * config.hiddenSize)),
                                                  tokens: count, passedLogits: scratch.routed.passedLogits, controls: controls) {
            expertCache?.prefetch(layer: l + 1, experts: guesses.reduce(into: Set<Int>()) { $0.formUnion($1) }.sorted())
            predictions = guesses
        }
        try moe.runExperts(&scratch.routed, input: normed, tokens: count, access: expertAccess(layer: l, moe: moe, lease: lease))
        lease?.release()
        swap(&scratch.previousLogits, &scratch.routed.passedLogits)
        scratch.hasPreviousLogits = true
    }

    /// Runs `tokens` at the cache's next positions (a prompt batch or one decode step), appending
    /// their keys and values to `cache`.
    public func forward(_ tokens: [Int], cache: KVCache, controls: RoutingControls = RoutingControls(), allLogits: Bool = false) throws -> Output {
        guard !tokens.isEmpty else { throw ForwardError.noTokens }
        let scratch = DecodeScratch(config: config, tokens: tokens.count, logitRows: allLogits ? tokens.count : 1)
        try tokens.withUnsafeBufferPointer { try run($0, cache: cache, controls: controls, scratch: scratch) }
        return Output(logits: scratch.logits, routing: scratch.routing)
    }

    /// One decode step: runs `token` at the cache's next position in `scratch` (made for one
    /// token and kept from step to step), leaving its logits in `scratch.logits` and its records
    /// in `scratch.routing[0]`. Once the scratch has served a step, a step allocates nothing —
    /// dense layers and shared experts (`scratch.routed.ffnWork`), latent attention
    /// (`scratch.latentWork`) and adaptive gating included — while the experts are mapped (the
    /// expert cache's leases and prediction still allocate; BENCHMARKS.md "Allocations per step").
    public func decode(_ token: Int, cache: KVCache, controls: RoutingControls = RoutingControls(), scratch: DecodeScratch) throws {
        precondition(scratch.tokens == 1, "decode takes a scratch made for one token")
        try withUnsafePointer(to: token) { try run(UnsafeBufferPointer(start: $0, count: 1), cache: cache, controls: controls, scratch: scratch) }
    }

    /// The pass itself: embed → blocks → final norm → lm_head, in `scratch` (sized for the batch).
    private func run(_ tokens: UnsafeBufferPointer<Int>, cache: KVCache, controls: RoutingControls, scratch: DecodeScratch) throws {
        let (d, count, start) = (config.hiddenSize, tokens.count, cache.length)
        // A scratch sized for another model would be read and written out of bounds.
        if let mismatch = scratch.mismatch(config) { preconditionFailure(mismatch) }
        precondition(count <= scratch.tokens && scratch.logits.count / config.vocabSize <= count,
                     "\(count) tokens, but the scratch was made for \(scratch.tokens) with \(scratch.logits.count / config.vocabSize) logit rows")
        for (i, token) in tokens.enumerated() where token < 0 || token >= config.vocabSize {
            throw ForwardError.tokenOutOfRange(token, position: i, vocabulary: config.vocabSize)
        }
        guard cache.reserve(start + count) else { throw ForwardError.contextFull(cache.maximumLength) }
        let hidden = scratch.hidden
        for (t, token) in tokens.enumerated() { embedding.copyRow(token, into: hidden + t * d) }
        if config.embeddingMultiplier != 1 { for i in 0..<count * d { hidden[i] *= config.embeddingMultiplier } }
        scratch.hasPreviousLogits = false
        scratch.holdsShortcut = false
        var predictions: [Set<Int>]?
        let cacheBefore = expertCache?.statistics
        for (l, block) in blocks.enumerated() {
            let attentionStart = DispatchTime.now()
            block.attend(tokens: count, start: start, layer: l, cache: cache, scratch: scratch)
            let moeStart = DispatchTime.now()
            block.normalize(hidden, block.postAttentionNorm, tokens: count, into: scratch.normed)
            // LongCat's shortcut MoE: computed in one block, added after the next block's feed-forward.
            var computedShortcut = false
            switch block.feedForward {
            case .dense(let ffn):
                FeedForward.dense(ffn, scratch.normed, tokens: count, into: scratch.sublayerOutput, records: &scratch.routing, layer: l,
                                  work: &scratch.routed.ffnWork)
                block.addResidual(hidden, scratch.sublayerOutput, count: count * d)
                scratch.hasPreviousLogits = false
                predictions = nil
            case .moe(let moe):
                try runMoE(moe, layer: l, tokens: count, controls: controls, predictions: &predictions, scratch: scratch)
                scratch.routed.hidden.withUnsafeBufferPointer { block.addResidual(hidden, $0.baseAddress!, count: count * d) }
            case .denseWithShortcut(let ffn, let moe):
                FeedForward.dense(ffn, scratch.normed, tokens: count, into: scratch.sublayerOutput, records: &scratch.routing, layer: l,
                                  work: &scratch.routed.ffnWork)
                try runMoE(moe, layer: l, tokens: count, controls: controls, predictions: &predictions, scratch: scratch)
                for t in 0..<count { scratch.routing[t][l].listDenseFFNAsShared() }
                block.addResidual(hidden, scratch.sublayerOutput, count: count * d)
                computedShortcut = true
            }
            if scratch.holdsShortcut { block.addResidual(hidden, scratch.shortcut, count: count * d) }
            if computedShortcut { scratch.routed.hidden.withUnsafeBufferPointer { scratch.shortcut.update(from: $0.baseAddress!, count: count * d) } }
            scratch.holdsShortcut = computedShortcut
            timings?.add(attention: moeStart.uptimeNanoseconds - attentionStart.uptimeNanoseconds,
                         moe: DispatchTime.now().uptimeNanoseconds - moeStart.uptimeNanoseconds, tokens: count)
        }
        // A batch's cache traffic is reported on its last token (one token per decode step).
        if let before = cacheBefore, let after = expertCache?.statistics {
            for l in 0..<blocks.count { scratch.routing[count - 1][l].cache = after[l] - before[l] }
        }
        cache.length = start + count
        let rows = scratch.logits.count / config.vocabSize
        let first = count - rows
        for r in 0..<rows { Kernels.rmsNorm(hidden + (first + r) * d, finalNorm, config.rmsNormEps, scratch.normed + r * d, d) }
        scratch.logits.withUnsafeMutableBufferPointer { Kernels.matmul(lmHead, scratch.normed, tokens: rows, $0.baseAddress!) }
        let scaling = config.logitsScaling
        if scaling != 1 { scratch.logits.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] /= scaling } } }
    }
}
