/// Token ids in descending order of logit (ties: the lower id first, as a stable sort of the
/// vocabulary gives them), found without sorting the vocabulary: a sampler needs only the top k,
/// or the head of the order until top-p's mass is reached.
///   top(k): a min-heap of the best k seen so far, O(n log k), then those k sorted;
///   descending(): a max-heap of every id built in O(n), popped one id at a time, O(log n) each.
struct RankedCandidates {
    let logits: ArraySlice<Float>

    /// Whether id `a` ranks above id `b` (ids count from the slice's start).
    @inline(__always) func above(_ a: Int, _ b: Int) -> Bool {
        let (x, y) = (logits[logits.startIndex + a], logits[logits.startIndex + b])
        return x > y || (x == y && a < b)
    }

    /// The k best ids, best first.
    func top(_ k: Int) -> [Int] {
        var heap: [Int] = []   // heap[0] is the worst of the best k
        heap.reserveCapacity(k)
        for id in 0..<logits.count {
            if heap.count < k {
                heap.append(id)
                siftUp(&heap, heap.count - 1, { above($1, $0) })
            } else if above(id, heap[0]) {
                heap[0] = id
                siftDown(&heap, 0, heap.count, { above($1, $0) })
            }
        }
        return heap.sorted(by: above)
    }

    /// Every id, best first, produced lazily.
    func descending() -> AnyIterator<Int> {
        var heap = Array(0..<logits.count)
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(&heap, i, heap.count, above) }
        var size = heap.count
        return AnyIterator {
            guard size > 0 else { return nil }
            let best = heap[0]
            size -= 1
            heap.swapAt(0, size)
            siftDown(&heap, 0, size, above)
            return best
        }
    }

    /// Restores the heap property (`first(parent, child)` holds) upwards from `i`.
    private func siftUp(_ heap: inout [Int], _ i: Int, _ first: (Int, Int) -> Bool) {
        var child = i
        while child > 0 {
            let parent = (child - 1) / 2
            guard first(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Restores the heap property downwards from `i` among the first `size` entries.
    private func siftDown(_ heap: inout [Int], _ i: Int, _ size: Int, _ first: (Int, Int) -> Bool) {
        var parent = i
        while true {
            let left = 2 * parent + 1
            guard left < size else { return }
            var chosen = left
            if left + 1 < size && first(heap[left + 1], heap[left]) { chosen = left + 1 }
            guard first(heap[chosen], heap[parent]) else { return }
            heap.swapAt(chosen, parent)
            parent = chosen
        }
    }
}
