import Foundation
import Testing
@testable import MoEKit

@Suite("AdapMoE expert cache, prefetching and per-layer allocation")
struct ExpertCacheTests {
    /// A 3-layer MoE++ (or Mixtral) checkpoint with 6 FFN experts per layer.
    func checkpoint(_ family: ModelFamily = .moepp, dtype: WeightFormat = .f16) -> String {
        TestSupport.randomCheckpoint(family, seed: 21, dtype: dtype) { config in
            config = RandomCheckpoint.tinyConfig(family, hidden: 32, layers: 3, ffnExperts: 6, intermediate: 48)
        }
    }

    /// Logits of a prompt batch then `steps` greedy decode steps (one forward each).
    func run(_ model: Transformer, steps: Int = 12, afterEach: () -> Void = {}) throws -> [[Float]] {
        let cache = model.makeCache()
        var tokens = [3, 14, 15, 9, 2, 6, 5, 35]
        var all: [[Float]] = []
        for step in 0...steps {
            let output = try model.forward(step == 0 ? tokens : [tokens.last!], cache: cache)
            all.append(output.logits)
            let next = output.logits.indices.max { output.logits[$0] < output.logits[$1] }!
            tokens.append(next)
            afterEach()
        }
        return all
    }

    @Test("the cache never exceeds its budget and holds exactly the expert bytes that are on disk", arguments: [ModelFamily.moepp, .mixtral])
    func budgetAndBytes(family: ModelFamily) throws {
        let directory = checkpoint(family)
        let model = try Transformer(directory: directory)
        let budgetBytes = 5 * 3 * 32 * 48 * 2 + 100
        let cache = try ExpertCacheSetup.install(on: model, directory: directory, budget: .bytes(budgetBytes), policy: .lru, prefetch: true)
        #expect(cache.slotCount == 5)
        #expect(cache.allocatedBytes <= budgetBytes)
        let file = try Data(contentsOf: URL(fileURLWithPath: directory + "/model.safetensors"))
        var checked = 0
        _ = try run(model, steps: 16) {
            cache.waitForPrefetches()
            #expect(cache.residentCount <= cache.slotCount)
            let resident = cache.residentExperts()
            #expect(Set(resident.map { "\($0.layer)/\($0.expert)" }).count == resident.count, "an expert sits in one slot")
            for (layer, expert, bytes) in resident {
                var position = 0
                for segment in cache.store.segments[layer][expert] {
                    let onDisk = file[segment.offset..<segment.offset + segment.byteCount]
                    let inSlot = Data(bytes: bytes.baseAddress! + position, count: segment.byteCount)
                    #expect(onDisk == inSlot, "layer \(layer) expert \(expert) differs from the file")
                    position += ExpertStore.aligned(segment.byteCount)
                    checked += 1
                }
            }
        }
        #expect(checked > 0)
        let statistics = cache.statistics.reduce(LayerCacheStatistics(), +)
        #expect(statistics.misses > 0 && statistics.requests == statistics.hits + statistics.misses)
        #expect(statistics.bytesRead == (statistics.misses + statistics.prefetchLoads) * cache.store.byteCount(layer: 0, expert: 0))
    }

    @Test("prefetch on or off, LRU or per-layer, any budget: outputs are bit-identical to the mapped model")
    func bitIdentical() throws {
        let directory = checkpoint()
        let reference = try run(try Transformer(directory: directory))
        let ids = Array(repeating: [3, 14, 15, 9, 2, 6, 5, 35, 8, 9, 7, 9, 3, 2, 3, 8], count: 8).flatMap { $0 }
        var calibration = Calibration(layers: [], calibrationTokens: 0, defaultEpsilon: 0.01)
        calibration.cache = try Calibrator.profileCache(directory: directory, ids: ids)
        try Calibrator.save(calibration, directory: directory)
        for (slots, policy, prefetch) in [(2, ExpertCacheSetup.PolicyName.lru, false), (2, .lru, true), (7, .lru, true),
                                          (3, .dp, true), (7, .dp, false), (18, .dp, true)] {
            let model = try Transformer(directory: directory)
            try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(slots), policy: policy, prefetch: prefetch)
            let logits = try run(model)
            #expect(logits == reference, "\(slots) slots, \(policy), prefetch \(prefetch)")
        }
    }

    @Test("prefetching predicts, loads ahead and reports in the routing records")
    func prefetchReports() throws {
        let directory = checkpoint()
        let model = try Transformer(directory: directory)
        let cache = try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(18), policy: .lru, prefetch: true)
        let kv = model.makeCache()
        _ = try model.forward([3, 14, 15, 9], cache: kv)
        var records: [[LayerRouting]] = []
        for token in [2, 6, 5, 35, 8, 9] { records.append(try model.forward([token], cache: kv).routing[0]) }
        for token in records {
            #expect(token[0].predictedExperts == nil, "nothing runs before layer 0 to predict it")
            #expect(token[1].predictedExperts != nil && token[2].predictedExperts != nil)
            #expect(token.allSatisfy { $0.cache != nil })
        }
        let statistics = cache.statistics
        #expect(statistics[1].prefetchLoads + statistics[2].prefetchLoads > 0)
        #expect(statistics.reduce(0) { $0 + $1.prefetchHits } > 0)
        let accuracy = model.predictionStatistics.accuracy
        #expect(accuracy[0] == nil)
        #expect(accuracy.dropFirst().allSatisfy { ($0 ?? -1) >= 0 && ($0 ?? 2) <= 1 })
        // With every expert resident, the second pass through the same tokens needs no reads.
        let before = cache.statistics
        let again = model.makeCache()
        _ = try model.forward([3, 14, 15, 9, 2, 6, 5, 35, 8, 9], cache: again)
        #expect(zip(cache.statistics, before).allSatisfy { ($0 - $1).misses == 0 })
    }

    @Test("a budget too small for one layer's top-k is refused with a clear error")
    func tooSmall() throws {
        let directory = checkpoint()
        let model = try Transformer(directory: directory)
        func failure(_ budget: ExpertBudget, _ policy: ExpertCacheSetup.PolicyName) -> String {
            let error = #expect(throws: (any Error).self) {
                try ExpertCacheSetup.install(on: model, directory: directory, budget: budget, policy: policy, prefetch: true)
            }
            return error.map { "\($0)" } ?? ""
        }
        for budget in [ExpertBudget.slots(1), .bytes(4000)] {
            let message = failure(budget, .lru)
            #expect(message.contains("top-2") && message.contains("at least 2 slots"), "\(message)")
        }
        #expect(model.expertCache == nil)
        #expect(failure(.slots(2), .dp).contains("each of the 3 layers"))
        #expect(failure(.slots(6), .dp).contains("calibration.json"))
        #expect(throws: ExpertBudget.ParseError.self) { try ExpertBudget(parsing: "lots") }
        #expect(try ExpertBudget(parsing: "8MB") == .bytes(8_000_000))
        #expect(try ExpertBudget(parsing: "2MiB") == .bytes(2_097_152))
        #expect(try ExpertBudget(parsing: "12") == .slots(12))
    }

    @Test("the LRU replay counts demand reads; the dynamic program minimises their sum")
    func allocation() {
        typealias Step = CacheProfile.Step
        // One slot, experts alternating 0, 1, 0, 1: every request reads; two slots: only the first two.
        let alternating = [[0], [1], [0], [1]].map { Step(computed: $0, predicted: nil) }
        #expect(CacheProfile.demandReads(alternating, capacity: 1) == 4)
        #expect(CacheProfile.demandReads(alternating, capacity: 2) == 2)
        // A right guess turns a demand read into a prefetch.
        let guessed = [Step(computed: [0], predicted: nil), Step(computed: [1], predicted: [1])]
        #expect(CacheProfile.demandReads(guessed, capacity: 1) == 1)
        // Two experts per token through one slot: both read every time.
        #expect(CacheProfile.demandReads([Step(computed: [0, 1], predicted: nil), Step(computed: [0, 1], predicted: nil)], capacity: 1) == 4)

        func layer(_ curve: [Double]) -> CacheProfile.Layer {
            CacheProfile.Layer(demandReadsPerToken: curve, singleExpertShare: 0, multipleExpertShare: 1, prefetchAccuracy: nil)
        }
        // Layer 0 gains a lot from its 2nd and 3rd slot, layer 1 little: with 5 slots the
        // optimum is 3 + 2 (cost 0.2 + 0.5), not an even split.
        var profile = CacheProfile(trace: [], experts: 4)
        profile.layers = [layer([2, 1.5, 0.9, 0.2, 0.1]), layer([2, 0.6, 0.5, 0.45, 0.4])]
        #expect(CacheAllocation.allocate(profile, budget: 5) == [3, 2])
        #expect(CacheAllocation.allocate(profile, budget: 2) == [1, 1])
        #expect(CacheAllocation.allocate(profile, budget: 8) == [4, 4])
        // Against brute force over every split of 6 slots.
        let curves = profile.layers.map(\.demandReadsPerToken)
        var bestSplit = [0, 0]
        var bestCost = Double.infinity
        for a in 2...4 {
            let cost: Double = curves[0][a] + curves[1][6 - a]
            if cost < bestCost { bestCost = cost; bestSplit = [a, 6 - a] }
        }
        #expect(CacheAllocation.allocate(profile, budget: 6) == bestSplit)
    }
}
