import MoEKit

/// Per-layer routing tallies over a set of tokens: how routed slots split across expert kinds and
/// how many FFN experts tokens actually ran.
public struct RoutingStatistics: Sendable {
    public private(set) var slots: [[Int]]          // [layer][slotColumn(category)]
    public private(set) var ffnComputed: [Int]      // [layer]
    /// What a vanilla MoE would have run, summed over tokens: see `vanillaFFN`.
    public private(set) var vanillaFFN: [Int]       // [layer]
    /// FFN experts per layer of the model (the vanilla baseline never exceeds it).
    public let ffnExperts: Int
    public private(set) var tokens = 0
    /// Expert-cache traffic per layer (all zero without a cache).
    public private(set) var cache: [LayerCacheStatistics]
    /// Prefetch guesses per layer: FFN experts computed, and how many of them had been predicted.
    public private(set) var predictionTargets: [Int]
    public private(set) var predictionHits: [Int]
    /// Routed slots per router expert, per layer ([layer][expert]); sized by the first record
    /// of each layer (a dense layer's stays empty).
    public private(set) var expertSlots: [[Int]]
    /// Tokens each layer routed (a dense layer routes none): the denominator of the means, so a
    /// dense layer does not read as an MoE layer that ran no expert.
    public private(set) var routedTokens: [Int]

    public init(layers: Int, ffnExperts: Int) {
        self.ffnExperts = ffnExperts
        slots = Array(repeating: [0, 0, 0, 0], count: layers)
        ffnComputed = Array(repeating: 0, count: layers)
        vanillaFFN = Array(repeating: 0, count: layers)
        cache = Array(repeating: LayerCacheStatistics(), count: layers)
        predictionTargets = Array(repeating: 0, count: layers)
        predictionHits = Array(repeating: 0, count: layers)
        expertSlots = Array(repeating: [], count: layers)
        routedTokens = Array(repeating: 0, count: layers)
    }

    /// The column of `slots` an expert category counts in: FFN, zero, copy, constant. A shared
    /// expert is never a routed slot; were one listed, it counts as the FFN it is.
    public static func slotColumn(_ category: ExpertKind.Category) -> Int {
        switch category {
        case .ffn, .shared: return 0
        case .zero: return 1
        case .copy: return 2
        case .constant: return 3
        }
    }

    public mutating func add(_ token: TokenRouting) {
        tokens += 1
        for layer in token.layers where layer.layer < slots.count {
            for choice in layer.chosen { slots[layer.layer][Self.slotColumn(choice.kind.category)] += 1 }
            if layer.hasRouter { routedTokens[layer.layer] += 1 }
            if expertSlots[layer.layer].count < layer.probabilities.count {
                expertSlots[layer.layer] += Array(repeating: 0, count: layer.probabilities.count - expertSlots[layer.layer].count)
            }
            for choice in layer.chosen where choice.index < expertSlots[layer.layer].count { expertSlots[layer.layer][choice.index] += 1 }
            ffnComputed[layer.layer] += layer.ffnExpertsComputed
            vanillaFFN[layer.layer] += Self.vanillaFFN(layer, ffnExperts: ffnExperts)
            if let traffic = layer.cache { cache[layer.layer] = cache[layer.layer] + traffic }
            if let predicted = layer.predictedExperts {
                let computed = layer.computedFFNExperts
                predictionTargets[layer.layer] += computed.count
                predictionHits[layer.layer] += computed.filter(predicted.contains).count
            }
        }
    }

    /// The baseline for "FFN compute saved", per token and layer: a vanilla top-k MoE runs an FFN
    /// expert in every slot the router filled for that token (k as it was then, so replies with
    /// different k each count their own), but never more than the layer has:
    ///   vanilla = min(k used, FFN experts),   k used = slots chosen (dropped slots included).
    public static func vanillaFFN(_ layer: LayerRouting, ffnExperts: Int) -> Int { min(layer.chosen.count, ffnExperts) }

    /// Mean vanilla FFN experts per token per routed layer; nil before any token.
    public var meanVanillaFFN: Double? {
        let routed = routedTokens.reduce(0, +)
        guard routed > 0 else { return nil }
        return Double(vanillaFFN.reduce(0, +)) / Double(routed)
    }

    /// Share of the vanilla FFN compute not run, in 0…1; nil before any token.
    public var savedFFNShare: Double? {
        guard let vanilla = meanVanillaFFN, vanilla > 0 else { return nil }
        return 1 - meanFFN / vanilla
    }

    /// nil until the layer has seen a prediction.
    public func predictionAccuracy(layer: Int) -> Double? {
        predictionTargets[layer] > 0 ? Double(predictionHits[layer]) / Double(predictionTargets[layer]) : nil
    }

    public var cacheTotal: LayerCacheStatistics { cache.reduce(LayerCacheStatistics(), +) }

    public func share(layer: Int, _ category: ExpertKind.Category) -> Double {
        let total = slots[layer].reduce(0, +)
        return total > 0 ? Double(slots[layer][Self.slotColumn(category)]) / Double(total) : 0
    }

    /// Each router expert's load relative to an even split of the layer's routed slots:
    ///   load_i = slots_i / (Σ_j slots_j / E)     (1 = its fair share, 0 = never chosen)
    /// Empty before the layer routed anything (and for a dense layer).
    public func relativeLoad(layer: Int) -> [Double] {
        let counts = expertSlots[layer]
        let total = counts.reduce(0, +)
        guard total > 0 else { return [] }
        let even = Double(total) / Double(counts.count)
        return counts.map { Double($0) / even }
    }

    public func meanFFN(layer: Int) -> Double { tokens > 0 ? Double(ffnComputed[layer]) / Double(tokens) : 0 }

    /// Mean FFN experts per token per routed layer (dense layers, which route nothing, left out).
    public var meanFFN: Double {
        let routed = routedTokens.reduce(0, +)
        return routed > 0 ? Double(ffnComputed.reduce(0, +)) / Double(routed) : 0
    }
}
