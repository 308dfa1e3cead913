/// Keys and values of every past position, per layer, so that decoding one token attends to the
/// whole context without recomputing it. Storage grows by doubling up to the model's context.
/// MLA keeps its latent in the key table and no values (`valueWidth` 0).
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let width: Int
    public let valueWidth: Int
    public let maximumLength: Int
    public private(set) var capacity: Int
    /// Positions filled so far (the next token's position).
    public internal(set) var length = 0
    private var keys: [UnsafeMutablePointer<Float>]
    private var values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, width: Int, valueWidth: Int? = nil, maximumLength: Int, initialCapacity: Int = 256) {
        self.layers = layers
        self.width = width
        self.valueWidth = valueWidth ?? width
        self.maximumLength = maximumLength
        let capacity = max(1, min(initialCapacity, maximumLength))
        self.capacity = capacity
        keys = (0..<layers).map { _ in .allocate(capacity: capacity * width) }
        values = (0..<layers).map { _ in .allocate(capacity: capacity * (valueWidth ?? width)) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Makes room for `count` positions in total; false if that exceeds the model's context.
    func reserve(_ count: Int) -> Bool {
        guard count <= maximumLength else { return false }
        guard count > capacity else { return true }
        let newCapacity = min(maximumLength, max(count, capacity * 2))
        for layer in 0..<layers {
            for table in [0, 1] {
                let tableWidth = table == 0 ? width : valueWidth
                let grown = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * tableWidth)
                let old = table == 0 ? keys[layer] : values[layer]
                grown.update(from: old, count: length * tableWidth)
                old.deallocate()
                if table == 0 { keys[layer] = grown } else { values[layer] = grown }
            }
        }
        capacity = newCapacity
        return true
    }

    @inline(__always) func key(_ layer: Int, _ position: Int) -> UnsafeMutablePointer<Float> { keys[layer] + position * width }
    @inline(__always) func value(_ layer: Int, _ position: Int) -> UnsafeMutablePointer<Float> { values[layer] + position * valueWidth }

    /// Forgets positions from `newLength` on (e.g. to restart a conversation).
    public func truncate(to newLength: Int) { length = max(0, min(length, newLength)) }
}
