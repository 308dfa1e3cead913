/// A read-only row-major weight matrix viewed in place: `rows` outputs × `cols` inputs, the way
/// PyTorch's `Linear` stores it, each row `rowBytes` bytes of `format` (whole blocks for block
/// formats). The bytes belong to a mapped checkpoint (or an expert-cache slot); `owner` keeps
/// that storage alive for as long as the view exists.
public struct WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let format: WeightFormat
    public let base: UnsafeRawPointer
    public let owner: AnyObject?

    public init(rows: Int, cols: Int, format: WeightFormat, base: UnsafeRawPointer, owner: AnyObject?) {
        precondition(format.canHoldRow(of: cols), "a \(format.name) row must be whole blocks")
        self.rows = rows
        self.cols = cols
        self.format = format
        self.base = base
        self.owner = owner
    }

    public var rowBytes: Int { format.bytesPerRow(cols) }
    public var byteCount: Int { rows * rowBytes }

    /// The mapped file the rows live in, when they live in one (not in a cache slot or the heap).
    public var mappedFile: MappedFile? { owner as? MappedFile }

    @inline(__always) public func rowPointer(_ row: Int) -> UnsafeRawPointer {
        base + row * rowBytes
    }

    /// Rows `range` as a matrix of their own (no copy): how the fused MoE++ `up_proj` splits into gate and up.
    public func rowSlice(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows)
        return WeightMatrix(rows: range.count, cols: cols, format: format, base: rowPointer(range.lowerBound), owner: owner)
    }

    /// Element (row, col) widened to Float; for references, tests and tools, not hot loops.
    public func element(_ row: Int, _ col: Int) -> Float {
        loadElement(rowPointer(row), format, col)
    }

    /// Row `row` widened into `out` (embedding lookup).
    public func copyRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        convertToFloat(rowPointer(row), format, count: cols, into: out)
    }

    /// A matrix owning f32 storage; for tests, trained weights and fixtures.
    public static func owning(rows: Int, cols: Int, values: [Float]) -> WeightMatrix {
        precondition(values.count == rows * cols)
        let storage = FloatStorage(values)
        return WeightMatrix(rows: rows, cols: cols, format: .f32, base: UnsafeRawPointer(storage.pointer), owner: storage)
    }
}

/// Heap storage of Floats that outlives the arrays it was built from; owned by WeightMatrix views.
public final class FloatStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(1, count))
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: count) }
    }

    public init(zeros count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }
}
