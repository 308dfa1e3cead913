/// Token ids in descending order of logit (ties: the lower id first, as a stable sort of the
/// vocabulary gives them), found without sorting the vocabulary: a sampler needs only the top k,
/// or the head of the order until top-p's mass is reached.
///   top(k): a min-heap of the best k seen so far, O(n log k), then heap-sorted in place;
///   heapOfAll + popBest: a max-heap of every id built in O(n), popped one id at a time, O(log n) each.
/// Both work in arrays the caller keeps, so a sampler drawing every token allocates nothing.
struct RankedCandidates {
    let logits: ArraySlice<Float>

    /// Whether id `a` ranks above id `b` (ids count from the slice's start).
    @inline(__always) func above(_ a: Int, _ b: Int) -> Bool {
        let (x, y) = (logits[logits.startIndex + a], logits[logits.startIndex + b])
        return x > y || (x == y && a < b)
    }

    /// The k best ids, best first, into `ids` (overwritten; a caller that keeps it between
    /// tokens allocates nothing).
    func top(_ k: Int, into ids: inout [Int]) {
        ids.removeAll(keepingCapacity: true)
        let below = { (a: Int, b: Int) in above(b, a) }   // ids[0] is the worst of the best k
        for id in 0..<logits.count {
            if ids.count < k {
                ids.append(id)
                siftUp(&ids, ids.count - 1, below)
            } else if above(id, ids[0]) {
                ids[0] = id
                siftDown(&ids, 0, ids.count, below)
            }
        }
        // Heap sort in place: the worst goes last, then the next worst before it, …
        var size = ids.count
        while size > 1 {
            size -= 1
            ids.swapAt(0, size)
            siftDown(&ids, 0, size, below)
        }
    }

    /// Every id as a max-heap in `heap` (overwritten): `popBest` then yields them best first.
    func heapOfAll(into heap: inout [Int]) {
        heap.removeAll(keepingCapacity: true)
        heap.append(contentsOf: 0..<logits.count)
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(&heap, i, heap.count, above) }
    }

    /// The best id left among the first `size` of a `heapOfAll` heap (nil when none is left).
    func popBest(_ heap: inout [Int], size: inout Int) -> Int? {
        guard size > 0 else { return nil }
        let best = heap[0]
        size -= 1
        heap.swapAt(0, size)
        siftDown(&heap, 0, size, above)
        return best
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
