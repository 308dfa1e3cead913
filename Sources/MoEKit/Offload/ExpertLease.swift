import Dispatch

extension ExpertCache {
    /// Experts of one layer pinned for one pass.
    public final class Lease {
        let cache: ExpertCache
        let layer: Int
        let slots: [Int: Int]
        var toRead: Set<Int>
        /// Missed experts served from `ExpertCache.missCopies` (their slots load in the background).
        let lowPrecision: [Int: FFNExpert]
        private var released = false

        init(cache: ExpertCache, layer: Int, slots: [Int: Int], toRead: Set<Int>, lowPrecision: [Int: FFNExpert] = [:]) {
            self.cache = cache
            self.layer = layer
            self.slots = slots
            self.toRead = toRead
            self.lowPrecision = lowPrecision
        }

        /// The expert's low-precision copy when the miss was served from one; else its matrices
        /// in its slot, reading it first if this lease claimed it, or
        /// waiting for a prefetch read still in flight.
        public func expert(_ expert: Int) throws -> FFNExpert {
            if let copy = lowPrecision[expert] { return copy }
            let slot = slots[expert]!
            if toRead.remove(expert) != nil {
                try cache.fill(slot, layer: layer, expert: expert)
            } else {
                try cache.waitUntilReady(slot)
            }
            return cache.store.expert(layer: layer, expert: expert, slot: cache.slotMemory(slot), owner: cache)
        }

        /// Reads every expert this lease claimed, concurrently: a device serves two reads at
        /// once faster than one after the other.
        public func readMisses() throws {
            let pending = Array(toRead)
            toRead.removeAll()
            guard !pending.isEmpty else { return }
            var failures = [Error?](repeating: nil, count: pending.count)
            failures.withUnsafeMutableBufferPointer { failed in
                let failedBase = failed.baseAddress!
                DispatchQueue.concurrentPerform(iterations: pending.count) { i in
                    do { try cache.fill(slots[pending[i]]!, layer: layer, expert: pending[i]) } catch { failedBase[i] = error }
                }
            }
            if let error = failures.compactMap({ $0 }).first { throw error }
        }

        public func release() {
            guard !released else { return }
            released = true
            // In expert order, so that LRU ties break the same way in every run.
            cache.unpin(slots.keys.sorted().map { slots[$0]! })
        }

        deinit { release() }
    }
}
