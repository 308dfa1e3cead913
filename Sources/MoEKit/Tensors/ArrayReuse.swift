/// Rewriting arrays kept from token to token in their own buffers: while an array's buffer is
/// unshared and large enough, neither of these allocates.
extension Array {
    /// Replaces the contents with `source`'s, in the existing buffer when it is unshared and
    /// large enough (what buffers kept from token to token rely on).
    mutating func overwrite<Source: Collection>(with source: Source) where Source.Element == Element {
        removeAll(keepingCapacity: true)
        append(contentsOf: source)
    }
}

extension Array where Element == Float {
    /// Makes the count `n` (new elements 0), keeping the buffer when it already has that count.
    mutating func resize(to n: Int) {
        if count > n { removeLast(count - n) } else if count < n { append(contentsOf: repeatElement(0, count: n - count)) }
    }
}
