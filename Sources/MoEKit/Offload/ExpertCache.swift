import Foundation

/// The fast tier (adapmoe-spec §3): a fixed pool of expert slots in RAM, allocated once, filled
/// from the `ExpertStore`. Attention, norms, embeddings and routers stay mapped; only FFN experts
/// go through here. Placement policies:
/// - `leastRecentlyUsed`: one pool for all layers; the least recently used unpinned slot goes.
/// - `perLayer(capacities)`: layer l owns `capacities[l]` slots (AdapMoE's allocation, sized by
///   `CacheAllocation`); LRU within the layer.
///
/// Thread safety: one compute thread leases and releases; the prefetcher's loader thread fills
/// slots in the background. Slot states change under `condition`; reads happen outside it.
public final class ExpertCache: @unchecked Sendable {
    public enum Policy: Sendable, Equatable {
        case leastRecentlyUsed
        case perLayer([Int])

        public var name: String {
            switch self {
            case .leastRecentlyUsed: return "lru"
            case .perLayer: return "dp"
            }
        }
    }

    public enum ConfigurationError: Error, CustomStringConvertible {
        case tooSmall(slots: Int, needed: Int, why: String)
        case badAllocation(String)

        public var description: String {
            switch self {
            case let .tooSmall(slots, needed, why):
                return "expert budget of \(slots) slot\(slots == 1 ? "" : "s") is too small: \(why) needs at least \(needed)"
            case .badAllocation(let why): return "per-layer expert allocation: \(why)"
            }
        }
    }

    struct Key: Hashable {
        var layer: Int
        var expert: Int
    }

    enum State { case empty, loading, ready, failed(Error) }

    struct Slot {
        var key: Key?
        var state: State = .empty
        var pins = 0
        var lastUse: UInt64 = 0
        /// Loaded by a prefetch and not yet used.
        var prefetched = false
    }

    public let store: ExpertStore
    public let policy: Policy
    public let slotCount: Int
    public var allocatedBytes: Int { slotCount * store.slotBytes }
    private let memory: UnsafeMutableRawPointer
    private var slots: [Slot]
    private var location: [Key: Int] = [:]
    private var clock: UInt64 = 0
    private var layerStatistics: [LayerCacheStatistics]
    private let condition = NSCondition()
    private let loader = BackgroundLoader()
    /// Slot ranges per layer (all the same range under global LRU).
    private let ranges: [Range<Int>]
    /// When set, a miss in one of its layers is served from its low-precision copy while the
    /// full expert loads in the background (`MissCopies`).
    public var missCopies: MissCopies?

    /// `slots` expert slots under `policy`; `topK` is the most experts one token can need from a
    /// layer: a budget that cannot hold them is refused.
    public init(store: ExpertStore, slots: Int, policy: Policy, topK: Int) throws {
        guard slots >= topK else { throw ConfigurationError.tooSmall(slots: slots, needed: topK, why: "one layer's top-\(topK)") }
        switch policy {
        case .leastRecentlyUsed:
            ranges = [Range<Int>](repeating: 0..<slots, count: store.layers)
        case .perLayer(let capacities):
            guard capacities.count == store.layers else {
                throw ConfigurationError.badAllocation("\(capacities.count) capacities for \(store.layers) layers")
            }
            guard capacities.allSatisfy({ $0 >= 1 }), capacities.reduce(0, +) <= slots else {
                throw ConfigurationError.badAllocation("capacities \(capacities) must each be ≥ 1 and sum to at most \(slots)")
            }
            var start = 0
            ranges = capacities.map { capacity in defer { start += capacity }; return start..<start + capacity }
        }
        self.store = store
        self.policy = policy
        slotCount = slots
        memory = UnsafeMutableRawPointer.allocate(byteCount: max(1, slots * store.slotBytes), alignment: 64)
        self.slots = [Slot](repeating: Slot(), count: slots)
        layerStatistics = [LayerCacheStatistics](repeating: LayerCacheStatistics(), count: store.layers)
    }

    deinit {
        loader.stop()
        memory.deallocate()
    }

    /// Slots that hold (or are loading) an expert.
    public var residentCount: Int { condition.withLock { location.count } }

    public var statistics: [LayerCacheStatistics] { condition.withLock { layerStatistics } }

    func slotMemory(_ slot: Int) -> UnsafeMutableRawPointer { memory + slot * store.slotBytes }

    private func tick() -> UInt64 { clock += 1; return clock }

    /// An evictable slot in `layer`'s range (empty first, then least recently used), skipping
    /// pinned and loading ones. Caller holds `condition`.
    private func victim(layer: Int) -> Int? {
        var best: Int?
        for slot in ranges[layer] {
            let candidate = slots[slot]
            if candidate.key == nil { return slot }
            if case .loading = candidate.state { continue }
            if candidate.pins > 0 { continue }
            if best == nil || candidate.lastUse < slots[best!].lastUse { best = slot }
        }
        return best
    }

    /// Empties `slot` and gives it to `key` (state `loading`). Caller holds `condition`.
    private func claim(_ slot: Int, for key: Key) {
        if let old = slots[slot].key {
            location[old] = nil
            if slots[slot].prefetched { layerStatistics[old.layer].prefetchWasted += 1 }
        }
        slots[slot] = Slot(key: key, state: .loading, pins: 0, lastUse: tick(), prefetched: false)
        location[key] = slot
    }

    /// Pins `experts` of `layer` for one pass of that layer, or returns nil when the layer's share
    /// cannot hold them all at once (the caller then goes one expert at a time). Misses are read
    /// when `Lease.expert` asks for them, so a prefetch issued in between overlaps those reads.
    public func lease(layer: Int, experts: [Int]) -> Lease? {
        guard experts.count <= ranges[layer].count else { return nil }
        condition.lock()
        defer { condition.unlock() }
        var pinned: [Int: Int] = [:], toRead: Set<Int> = [], lowPrecision: [Int: FFNExpert] = [:]
        for expert in experts {
            let key = Key(layer: layer, expert: expert)
            layerStatistics[layer].requests += 1
            if let slot = location[key] {
                slots[slot].pins += 1
                pinned[expert] = slot
                layerStatistics[layer].hits += 1
                if slots[slot].prefetched {
                    slots[slot].prefetched = false
                    layerStatistics[layer].prefetchHits += 1
                    if case .loading = slots[slot].state { layerStatistics[layer].prefetchWaits += 1 }
                }
                continue
            }
            var slot = victim(layer: layer)
            while slot == nil {
                // Every other slot of the range is pinned by this lease or loading: wait for a load.
                condition.wait()
                slot = victim(layer: layer)
            }
            claim(slot!, for: key)
            layerStatistics[layer].misses += 1
            if let copy = missCopies?.expert(layer: layer, expert: expert) {
                // Unpinned: a loading slot is never a victim, and once ready it is an ordinary one.
                lowPrecision[expert] = copy
                layerStatistics[layer].lowPrecisionMisses += 1
                loader.enqueue { [self, claimed = slot!] in try? fill(claimed, layer: layer, expert: expert) }
                continue
            }
            slots[slot!].pins = 1
            pinned[expert] = slot!
            toRead.insert(expert)
        }
        return Lease(cache: self, layer: layer, slots: pinned, toRead: toRead, lowPrecision: lowPrecision)
    }

    /// Reads into a claimed slot on the calling thread (a lease's, or the prefetcher's) and
    /// publishes the result.
    func fill(_ slot: Int, layer: Int, expert: Int) throws {
        let outcome = Result { try store.read(layer: layer, expert: expert, into: slotMemory(slot)) }
        condition.lock()
        switch outcome {
        case .success(let bytes):
            slots[slot].state = .ready
            layerStatistics[layer].bytesRead += bytes
        case .failure(let error):
            slots[slot].state = .failed(error)
            // A failed prefetch nobody has pinned yet would never be unpinned: free it now.
            if slots[slot].pins == 0 {
                location[Key(layer: layer, expert: expert)] = nil
                slots[slot] = Slot()
            }
        }
        condition.broadcast()
        condition.unlock()
        if case .failure(let error) = outcome { throw error }
    }

    func waitUntilReady(_ slot: Int) throws {
        condition.lock()
        defer { condition.unlock() }
        while true {
            switch slots[slot].state {
            case .ready: return
            case .failed(let error): throw error
            case .loading, .empty: condition.wait()
            }
        }
    }

    func unpin(_ pinned: [Int]) {
        condition.lock()
        for slot in pinned {
            slots[slot].pins -= 1
            slots[slot].lastUse = tick()
            // A failed read leaves nothing worth keeping.
            if case .failed = slots[slot].state, slots[slot].pins == 0, let key = slots[slot].key {
                location[key] = nil
                slots[slot] = Slot()
            }
        }
        condition.broadcast()
        condition.unlock()
    }

    /// Starts background reads of `experts` of `layer` that are neither resident nor loading,
    /// into slots nobody has pinned; experts without such a slot are skipped.
    public func prefetch(layer: Int, experts: [Int]) {
        condition.lock()
        defer { condition.unlock() }
        for expert in experts {
            let key = Key(layer: layer, expert: expert)
            guard location[key] == nil, let slot = victim(layer: layer) else { continue }
            claim(slot, for: key)
            slots[slot].prefetched = true
            layerStatistics[layer].prefetchLoads += 1
            // A failure is kept in the slot for a lease that pins it, or frees it (see `fill`).
            loader.enqueue { [self] in try? fill(slot, layer: layer, expert: expert) }
        }
    }

    /// Blocks until the prefetcher has no read in flight (benchmarks and tests).
    public func waitForPrefetches() { loader.drain() }

    /// Each resident expert with the bytes of its slot (tests compare them with the file).
    func residentExperts() -> [(layer: Int, expert: Int, bytes: UnsafeRawBufferPointer)] {
        condition.withLock {
            slots.enumerated().compactMap { index, slot in
                guard let key = slot.key, case .ready = slot.state else { return nil }
                return (key.layer, key.expert, UnsafeRawBufferPointer(start: slotMemory(index), count: store.slotBytes))
            }
        }
    }
}
