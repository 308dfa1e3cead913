import Foundation

/// Quality and routing of a model on held-out text, measured the way `BENCHMARKS.md` reports
/// them: validation loss over non-overlapping context-length windows, routing shares per layer
/// and per token class, expert-layer throughput over those batches, and greedy decode speed.
public struct ModelEvaluation {
    public struct Result: Codable, Sendable {
        public var validationLoss: Double
        public var perplexity: Double
        public var evaluatedTokens: Int
        /// Mean FFN experts per token per layer, overall and per layer.
        public var ffnPerTokenPerLayer: Double
        public var ffnPerLayer: [Double]
        /// Share of routed slots per kind (ffn, zero, copy, constant).
        public var slotShare: [String: Double]
        public var classes: [String: ClassFigure]
        /// Tokens per second through the MoE layers alone (router + experts) in 256-token prompt
        /// batches: the median over the evaluation's chunks.
        public var expertLayerTokensPerSecond: Double
        public var decodeTokensPerSecond: Double
    }

    public struct ClassFigure: Codable, Sendable {
        public var tokens: Int
        public var ffnPerTokenPerLayer: Double
    }

    public let model: Transformer
    public let tokenizer: Tokenizer
    public var maximumTokens = 20_000
    public var decodeTokens = 128
    public var repeats = 5
    public var controls = RoutingControls()

    public init(model: Transformer, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    public func run(text: String) throws -> Result {
        let ids = Array(tokenizer.encode(text).prefix(maximumTokens))
        let window = model.config.maxPositionEmbeddings
        guard ids.count > window else { throw CheckpointError(file: "validation text", "only \(ids.count) tokens; need more than \(window)") }
        let vocabulary = model.config.vocabSize
        var lossSum = 0.0, predicted = 0
        var ffnByLayer = [Int](repeating: 0, count: model.config.numLayers)
        var slots: [String: Int] = [:]
        var classTokens: [TokenClass: Int] = [:], classFFN: [TokenClass: Int] = [:]
        var routedTokens = 0
        model.warmUp()
        let timings = LayerTimings()
        model.timings = timings
        defer { model.timings = nil }
        var previousText: String?
        var start = 0
        // Expert-layer speed per chunk; the median over chunks shrugs off a noisy neighbour.
        var expertRates: [Double] = []
        while start + window <= ids.count {
            let chunk = Array(ids[start..<start + window])
            timings.reset()
            let output = try model.forward(chunk, cache: model.makeCache(), controls: controls, allLogits: true)
            expertRates.append(Double(timings.tokenLayers) / Double(model.config.numLayers) / max(timings.moeSeconds, 1e-9))
            for t in 0..<(window - 1) {
                let row = output.logits[t * vocabulary..<(t + 1) * vocabulary]
                let top = row.max()!
                let sum = row.reduce(0.0) { $0 + exp(Double($1 - top)) }
                lossSum += log(sum) + Double(top) - Double(row[row.startIndex + chunk[t + 1]])
                predicted += 1
            }
            for (t, layers) in output.routing.enumerated() {
                let text = tokenizer.decode([chunk[t]])
                let tokenClass = TokenClass.classify(text, after: previousText)
                previousText = text
                var ffn = 0
                for layer in layers {
                    ffnByLayer[layer.layer] += layer.ffnExpertsComputed
                    ffn += layer.ffnExpertsComputed
                    for choice in layer.chosen { slots[choice.kind.category.shareName, default: 0] += 1 }
                }
                classTokens[tokenClass, default: 0] += 1
                classFFN[tokenClass, default: 0] += ffn
                routedTokens += 1
            }
            start += window
        }
        let layers = Double(model.config.numLayers)
        let totalSlots = Double(slots.values.reduce(0, +))
        var classes: [String: ClassFigure] = [:]
        for (tokenClass, count) in classTokens {
            classes[tokenClass.rawValue] = ClassFigure(tokens: count, ffnPerTokenPerLayer: Double(classFFN[tokenClass] ?? 0) / Double(count) / layers)
        }
        let expertThroughput = Statistics.median(expertRates)
        let loss = lossSum / Double(predicted)
        return Result(validationLoss: loss, perplexity: exp(loss), evaluatedTokens: routedTokens,
                      ffnPerTokenPerLayer: Double(ffnByLayer.reduce(0, +)) / Double(routedTokens) / layers,
                      ffnPerLayer: ffnByLayer.map { Double($0) / Double(routedTokens) },
                      slotShare: slots.mapValues { Double($0) / totalSlots }, classes: classes,
                      expertLayerTokensPerSecond: expertThroughput,
                      decodeTokensPerSecond: try decodeRate(prompt: Array(ids.prefix(32))))
    }

    /// Greedy decoding from `prompt`, median tokens/s over `repeats` runs.
    func decodeRate(prompt: [Int]) throws -> Double {
        var rates: [Double] = []
        for _ in 0..<repeats {
            let cache = model.makeCache()
            var logits = try model.forward(prompt, cache: cache, controls: controls).logits
            let started = Date()
            var produced = 0
            while produced < decodeTokens && cache.length < cache.maximumLength {
                logits = try model.forward([Sampler.greedy(logits[...])], cache: cache, controls: controls).logits
                produced += 1
            }
            rates.append(Double(produced) / Date().timeIntervalSince(started))
        }
        return Statistics.median(rates)
    }
}
