/// A fixed-size block of trainer scalars (activations, their gradients), zero-initialised,
/// freed with the object. Pointer access keeps the layer code close to the formulas.
public final class Buffer<S: TrainingScalar> {
    public let pointer: UnsafeMutablePointer<S>
    public let count: Int

    public init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }

    public var p: UnsafeMutablePointer<S> { pointer }
    public func zero() { pointer.update(repeating: 0, count: count) }

    @inline(__always) public subscript(i: Int) -> S {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
