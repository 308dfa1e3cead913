import Foundation

/// Decode speed and cache behaviour under an expert budget, starting from a cold page cache
/// (adapmoe-spec "What we measure"). Every repeat drops the checkpoint from the page cache,
/// loads the model afresh, warms only the resident weights, runs the prompt, then times the
/// decode of a fixed sampled continuation. Cache figures are over the decode phase, from the last
/// round (without prefetching they repeat exactly; with it, a read still in flight cannot be
/// evicted, so timing can shift placement a little).
public struct CacheBenchmark {
    public struct Configuration: Sendable {
        public var name: String
        /// nil: no cache, every expert mapped (the reference).
        public var policy: ExpertCacheSetup.PolicyName?
        public var prefetch: Bool
        public var adaptiveGate: AdaptiveGate?
        /// Serve misses in low-sensitivity layers from copies in this format (`MissCopies`).
        public var missFormat: WeightFormat?

        public init(name: String, policy: ExpertCacheSetup.PolicyName?, prefetch: Bool, adaptiveGate: AdaptiveGate? = nil,
                    missFormat: WeightFormat? = nil) {
            self.name = name
            self.policy = policy
            self.prefetch = prefetch
            self.adaptiveGate = adaptiveGate
            self.missFormat = missFormat
        }
    }

    public struct Row: Sendable, Codable {
        public var name: String
        public var decodeTokensPerSecond: Double
        public var decodeRates: [Double]
        public var ffnExpertsPerTokenPerLayer: Double
        /// nil without a cache.
        public var cache: LayerCacheStatistics?
        public var perLayerHitRate: [Double]
        public var prefetchAccuracy: [Double?]
        public var allocation: [Int]?
        /// The cache's size: slots and bytes per slot (nil without a cache).
        public var slots: Int?
        public var slotBytes: Int?
        public var decodedTokens: Int
        /// Heap bytes of the low-precision miss copies (nil without them).
        public var missCopyBytes: Int?
        /// exp(mean −log p) of the held-out tokens the decode was fed (nil when it sampled).
        public var decodePerplexity: Double?

        public var demandReadsPerToken: Double { Double(cache?.misses ?? 0) / Double(max(1, decodedTokens)) }
        public var bytesReadPerToken: Double { Double(cache?.bytesRead ?? 0) / Double(max(1, decodedTokens)) }
        public var prefetchLoadsPerToken: Double { Double(cache?.prefetchLoads ?? 0) / Double(max(1, decodedTokens)) }
    }

    public let directory: String
    public var budget: ExpertBudget
    public var prompt = "ROMEO.\nBut soft, what light through yonder window breaks?\n"
    public var decodeTokens = 128
    public var repeats = 5
    public var uncachedReads = false
    public var sampling = SamplingSettings(temperature: 0.8, topK: 40, seed: 7)
    /// When set, the prompt is its first `heldOutPromptTokens` and the decode is fed the next
    /// tokens (teacher forcing) instead of sampling, so that each configuration's decode
    /// perplexity on the same text can be compared.
    public var heldOutTokens: [Int]?
    public static let heldOutPromptTokens = 16

    public init(directory: String, budget: ExpertBudget) {
        self.directory = directory
        self.budget = budget
    }

    /// Runs the configurations round-robin, `repeats` rounds, so that drift in the machine (or
    /// in the host's disk cache) spreads over all of them; decode tok/s is each one's median.
    public func run(_ configurations: [Configuration]) throws -> [Row] {
        var rows: [Row?] = Array(repeating: nil, count: configurations.count)
        var rates = [[Double]](repeating: [], count: configurations.count)
        for _ in 0..<max(1, repeats) {
            for (index, configuration) in configurations.enumerated() {
                let row = try runOnce(configuration)
                rates[index].append(row.decodeTokensPerSecond)
                rows[index] = row
            }
        }
        return zip(rows, rates).map { row, rates in
            var row = row!
            row.decodeRates = rates
            row.decodeTokensPerSecond = Statistics.median(rates)
            return row
        }
    }

    private func runOnce(_ configuration: Configuration) throws -> Row {
        ExpertStore.dropPageCache(directory: directory)
        // The cache reads routed experts from the file itself: they stay as stored.
        let interleaving = configuration.policy == nil ? RowInterleaving.current : RowInterleaving.current.sparingRoutedExperts
        let model = try Transformer(directory: directory, interleaving: interleaving)
        let tokenizer = try Tokenizer.load(directory: directory, vocabularySize: model.config.vocabSize)
        var cache: ExpertCache?
        if let policy = configuration.policy {
            cache = try ExpertCacheSetup.install(on: model, directory: directory, budget: budget, policy: policy,
                                                 prefetch: configuration.prefetch, uncachedReads: uncachedReads,
                                                 missFormat: configuration.missFormat)
        }
        model.warmUp()
        let controls = RoutingControls(adaptiveGate: configuration.adaptiveGate)
        let kv = model.makeCache()
        let heldOut = heldOutTokens.map { Array($0.prefix(Self.heldOutPromptTokens + decodeTokens)) }
        if let heldOut, heldOut.count < Self.heldOutPromptTokens + decodeTokens {
            throw CheckpointError(file: "validation text", "\(heldOut.count) tokens; need \(Self.heldOutPromptTokens + decodeTokens)")
        }
        var output = try model.forward(heldOut.map { Array($0.prefix(Self.heldOutPromptTokens)) } ?? tokenizer.encode(prompt), cache: kv, controls: controls)
        cache?.waitForPrefetches()
        let before = cache?.statistics
        model.predictionStatistics = PredictionStatistics(layers: model.config.numLayers)
        var sampler = Sampler(seed: sampling.seed)
        var ffn = 0, layerTokens = 0, negativeLogLikelihood = 0.0
        let start = Date()
        for step in 0..<decodeTokens {
            let next: Int
            if let heldOut {
                next = heldOut[Self.heldOutPromptTokens + step]
                negativeLogLikelihood += Self.negativeLogProbability(of: next, logits: output.logits)
            } else {
                next = sampler.sample(output.logits[...], sampling)
            }
            output = try model.forward([next], cache: kv, controls: controls)
            ffn += output.routing[0].reduce(0) { $0 + $1.ffnExpertsComputed }
            layerTokens += output.routing[0].count
        }
        let seconds = Date().timeIntervalSince(start)
        var total: LayerCacheStatistics?
        var perLayer: [Double] = []
        var allocation: [Int]?
        if let cache, let before {
            let deltas = zip(cache.statistics, before).map { $0 - $1 }
            total = deltas.reduce(LayerCacheStatistics(), +)
            perLayer = deltas.map(\.hitRate)
            if case .perLayer(let capacities) = cache.policy { allocation = capacities }
        }
        return Row(name: configuration.name, decodeTokensPerSecond: Double(decodeTokens) / seconds, decodeRates: [],
                   ffnExpertsPerTokenPerLayer: Double(ffn) / Double(max(1, layerTokens)), cache: total,
                   perLayerHitRate: perLayer, prefetchAccuracy: configuration.prefetch ? model.predictionStatistics.accuracy : [],
                   allocation: allocation, slots: cache?.slotCount, slotBytes: cache?.store.slotBytes, decodedTokens: decodeTokens,
                   missCopyBytes: cache?.missCopies?.byteCount,
                   decodePerplexity: heldOut == nil ? nil : exp(negativeLogLikelihood / Double(decodeTokens)))
    }

    /// −log softmax(logits)[token], in Double from the max-shifted logits.
    static func negativeLogProbability(of token: Int, logits: [Float]) -> Double {
        let top = logits.max()!
        let sum = logits.reduce(0.0) { $0 + exp(Double($1 - top)) }
        return log(sum) + Double(top) - Double(logits[token])
    }
}
