/// AdapMoE's per-layer cache sizing (adapmoe-spec §3), from a measured routing trace.
///
/// For each layer, `CacheProfile` replays the trace through an LRU of every size c = 0…E with the
/// prefetcher's guesses loaded first, as the engine does, and counts the demand reads per token:
/// m_l(c). That curve carries both things the paper's model uses — how often the layer needs one
/// vs two experts, and how often the prefetch guess is right — measured rather than modelled.
/// The allocation then solves
///   minimise Σ_l m_l(c_l)   subject to   Σ_l c_l = B,  1 ≤ c_l ≤ E
/// by dynamic programming over layers and budget: best(l, b) = min_c m_l(c) + best(l+1, b−c).
public struct CacheProfile: Codable, Sendable, Equatable {
    public struct Layer: Codable, Sendable, Equatable {
        /// m_l(c) for c = 0…E: demand reads per token with c slots for this layer.
        public var demandReadsPerToken: [Double]
        /// Share of tokens needing exactly one / two or more FFN experts here.
        public var singleExpertShare: Double
        public var multipleExpertShare: Double
        /// Predicted ∩ computed over computed; nil for layer 0.
        public var prefetchAccuracy: Double?
    }

    public var layers: [Layer]
    public var tokens: Int

    /// One token's step through one layer: the FFN experts computed and the prefetch guess.
    public struct Step {
        public var computed: [Int]
        public var predicted: [Int]?

        public init(computed: [Int], predicted: [Int]?) {
            self.computed = computed
            self.predicted = predicted
        }
    }

    /// `trace[t][l]`: token t (in decoding order) at layer l; `experts`: FFN experts per layer.
    public init(trace: [[Step]], experts: Int) {
        tokens = trace.count
        let layerCount = trace.first?.count ?? 0
        layers = (0..<layerCount).map { l in
            let steps = trace.map { $0[l] }
            let curve = (0...experts).map { capacity in
                Double(Self.demandReads(steps, capacity: capacity)) / Double(max(1, steps.count))
            }
            let single = steps.filter { $0.computed.count == 1 }.count
            let multiple = steps.filter { $0.computed.count >= 2 }.count
            var accuracy: Double?
            if l > 0 {
                let computed = steps.reduce(0) { $0 + $1.computed.count }
                let hit = steps.reduce(0) { $0 + Set($1.computed).intersection($1.predicted ?? []).count }
                accuracy = computed > 0 ? Double(hit) / Double(computed) : nil
            }
            return Layer(demandReadsPerToken: curve, singleExpertShare: Double(single) / Double(max(1, steps.count)),
                         multipleExpertShare: Double(multiple) / Double(max(1, steps.count)), prefetchAccuracy: accuracy)
        }
    }

    /// Demand reads of one layer's steps through an LRU of `capacity` slots, prefetching first.
    static func demandReads(_ steps: [Step], capacity: Int) -> Int {
        guard capacity > 0 else { return steps.reduce(0) { $0 + $1.computed.count } }
        var resident: [Int] = []   // least recently used first
        var reads = 0
        func insert(_ expert: Int, protecting pinned: Set<Int>) -> Bool {
            if resident.count >= capacity {
                guard let victim = resident.firstIndex(where: { !pinned.contains($0) }) else { return false }
                resident.remove(at: victim)
            }
            resident.append(expert)
            return true
        }
        for step in steps {
            for expert in step.predicted ?? [] where !resident.contains(expert) {
                _ = insert(expert, protecting: [])
            }
            var pinned = Set<Int>()
            for expert in step.computed {
                if let at = resident.firstIndex(of: expert) {
                    resident.remove(at: at)
                    resident.append(expert)
                } else {
                    reads += 1
                    // Too small to hold this token's experts together: the engine goes one at a time.
                    if !insert(expert, protecting: pinned) { resident.removeFirst(); resident.append(expert) }
                }
                pinned.insert(expert)
            }
        }
        return reads
    }
}

public enum CacheAllocation {
    /// Slots per layer minimising the profile's expected demand reads within `budget` slots.
    public static func allocate(_ profile: CacheProfile, budget: Int) -> [Int] {
        let layerCount = profile.layers.count
        guard layerCount > 0 else { return [] }
        let maxPerLayer = profile.layers.map { $0.demandReadsPerToken.count - 1 }
        // best[l][b]: least cost of layers l… with b slots; choice[l][b]: c_l achieving it.
        var best = [[Double]](repeating: [Double](repeating: .infinity, count: budget + 1), count: layerCount + 1)
        var choice = [[Int]](repeating: [Int](repeating: 0, count: budget + 1), count: layerCount)
        for b in 0...budget { best[layerCount][b] = 0 }
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            for b in 0...budget {
                for c in 1...max(1, min(maxPerLayer[l], b)) where c <= b {
                    let cost = profile.layers[l].demandReadsPerToken[c] + best[l + 1][b - c]
                    if cost < best[l][b] { best[l][b] = cost; choice[l][b] = c }
                }
            }
        }
        var capacities: [Int] = []
        var remaining = budget
        for l in 0..<layerCount {
            let c = max(1, choice[l][remaining])
            capacities.append(c)
            remaining -= c
        }
        return capacities
    }
}
