import Foundation

/// Prompt and decode throughput of a model, with the weight bytes each decoded token touches, so
/// that decode speed can be set against the memory roofline (bytes per token ÷ bandwidth).
public struct DecodeBenchmark {
    public struct Result: Sendable {
        public var promptTokensPerSecond: Double
        public var decodeTokensPerSecond: Double
        /// Mean FFN experts computed per token per layer.
        public var ffnExpertsPerTokenPerLayer: Double
        /// Share of routed slots per kind: ffn, zero, copy, constant.
        public var slotShare: [String: Double]
        /// Weight (and KV-cache) bytes read per decoded token.
        public var bytesPerToken: Double
        public var bandwidthBytesPerSecond: Double
        public var rooflineTokensPerSecond: Double { bytesPerToken > 0 ? bandwidthBytesPerSecond / bytesPerToken : 0 }
        public var fractionOfRoofline: Double { rooflineTokensPerSecond > 0 ? decodeTokensPerSecond / rooflineTokensPerSecond : 0 }
        /// The roofline measured between tokens, when the benchmark had a `pairedRoofline`.
        public var paired: PairedRoofline.Result?
        /// The decode's parallel regions, with `regionStatistics`.
        public var regions: RegionStatistics.Snapshot?
        /// Seconds of all timed decode steps (every repeat).
        public var decodeSeconds = 0.0
    }

    public let model: Transformer
    public var promptTokens = 128
    public var decodeTokens = 64
    public var repeats = 5
    public var controls = RoutingControls()
    /// When set, the probe reads each decoded token's bytes right after it (see PairedRoofline);
    /// decode rates then count the tokens' own seconds only.
    public var pairedRoofline: PairedRoofline?
    /// Whether to count the decode steps' parallel regions (`RegionStatistics`).
    public var regionStatistics = false

    public init(model: Transformer) { self.model = model }

    /// Bytes a decode step reads for the token whose routing is `layers` at context length `context`.
    func bytesTouched(_ layers: [LayerRouting], context: Int) -> Double {
        var bytes = 0
        let config = model.config
        for (l, block) in model.blocks.enumerated() {
            bytes += block.attention.matrixBytes
            bytes += context * (config.cacheWidths.key + config.cacheWidths.value) * 4
            guard let moe = block.moe else {
                if case .dense(let ffn) = block.feedForward { bytes += ffn.byteCount }
                continue
            }
            switch moe.router.projection {
            case .linear(let w): bytes += w.byteCount
            case .twoLayer(let w1, let w2): bytes += w1.byteCount + w2.byteCount
            }
            bytes += moe.router.residual?.matrix.byteCount ?? 0
            bytes += moe.shared.reduce(0) { $0 + $1.ffn.byteCount + ($1.gate?.byteCount ?? 0) }
            for choice in layers[l].chosen where choice.weight != 0 {
                if case .ffn(let e) = config.kind(ofExpert: choice.index) { bytes += moe.ffnExperts[e].byteCount }
                if case .constant = config.kind(ofExpert: choice.index) { bytes += 3 * config.hiddenSize * 4 }
            }
        }
        return Double(bytes + model.lmHead.byteCount + model.embedding.rowBytes)
    }

    /// One untimed prompt and two decode steps before the timed repeats, as llama-bench runs one
    /// before its own: a process's first prompt also pays for its scratch's first-touch page faults
    /// and the worker pool's first wake-up (on a Zen 4 the first of six 128-token prompts of the
    /// f32 145 M Mixtral ran at 0.84× the median of the other five, Q4_K 0.94×), which a
    /// one-repeat side-by-side run would otherwise count against moepp alone.
    func warmUpPass(_ prompt: [Int]) throws {
        let cache = model.makeCache()
        let logits = try model.forward(prompt, cache: cache, controls: controls).logits
        let step = DecodeScratch(config: model.config, tokens: 1)
        try model.decode(Sampler.greedy(logits[...]), cache: cache, controls: controls, scratch: step)
        try model.decode(Sampler.greedy(step.logits[...]), cache: cache, controls: controls, scratch: step)
    }

    public func run(bandwidth: Double) throws -> Result {
        model.warmUp()
        var random = SeededRandom(seed: 42)
        let vocabulary = model.config.vocabSize
        let prompt = (0..<promptTokens).map { _ in Int(random.next() % UInt64(vocabulary)) }
        try warmUpPass(prompt)
        var promptRates: [Double] = [], decodeRates: [Double] = []
        var ffnComputed = 0, layerTokens = 0, bytes = 0.0, allDecodeSeconds = 0.0
        let statistics = Parallel.regionStatistics
        if regionStatistics { statistics.reset() }
        var slots: [String: Int] = [:]
        for _ in 0..<max(1, repeats) {
            let cache = model.makeCache()
            let promptStart = Date()
            let promptLogits = try model.forward(prompt, cache: cache, controls: controls).logits
            promptRates.append(Double(promptTokens) / Date().timeIntervalSince(promptStart))
            let step = DecodeScratch(config: model.config, tokens: 1)
            var decodeSeconds = 0.0
            for produced in 0..<decodeTokens {
                let tokenStart = DispatchTime.now().uptimeNanoseconds   // sampling is part of a decode step
                let next = Sampler.greedy(produced == 0 ? promptLogits[...] : step.logits[...])
                let context = cache.length + 1
                if regionStatistics { statistics.resume() }
                try model.decode(next, cache: cache, controls: controls, scratch: step)
                if regionStatistics { statistics.pause() }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - tokenStart) / 1e9
                decodeSeconds += seconds
                let layers = step.routing[0]
                ffnComputed += layers.reduce(0) { $0 + $1.ffnExpertsComputed }
                layerTokens += layers.count
                for choice in layers.flatMap(\.chosen) { slots[choice.kind.category.shareName, default: 0] += 1 }
                let touched = bytesTouched(layers, context: context)
                bytes += touched
                pairedRoofline?.token(bytes: touched, seconds: seconds)
            }
            decodeRates.append(decodeSeconds > 0 ? Double(decodeTokens) / decodeSeconds : 0)
            allDecodeSeconds += decodeSeconds
        }
        let totalSlots = Double(slots.values.reduce(0, +))
        return Result(promptTokensPerSecond: Statistics.median(promptRates), decodeTokensPerSecond: Statistics.median(decodeRates),
                      ffnExpertsPerTokenPerLayer: Double(ffnComputed) / Double(max(1, layerTokens)),
                      slotShare: slots.mapValues { Double($0) / max(1, totalSlots) },
                      bytesPerToken: bytes / Double(max(1, decodeTokens * repeats)), bandwidthBytesPerSecond: bandwidth,
                      paired: pairedRoofline?.result, regions: regionStatistics ? statistics.snapshot : nil, decodeSeconds: allDecodeSeconds)
    }
}
