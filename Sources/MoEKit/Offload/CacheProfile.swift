/// A layer-by-layer summary of a measured routing trace, for sizing the expert cache (see
/// `CacheAllocation`). For each layer, the trace is replayed through an LRU of every size
/// c = 0…E with the prefetcher's guesses loaded first, as the engine does, counting the demand
/// reads per token: m_l(c). That curve carries both things AdapMoE's model uses — how often the
/// layer needs one vs two experts, and how often the prefetch guess is right — measured rather
/// than modelled.
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
