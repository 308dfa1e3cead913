/// A read-only row-major weight matrix viewed in place: `rows` outputs × `cols` inputs, the way
/// PyTorch's `Linear` stores it, each row `rowBytes` bytes of `format` (whole blocks for block
/// formats). The bytes belong to a mapped checkpoint (or an expert-cache slot); `owner` keeps
/// that storage alive for as long as the view exists. A matrix of `rows8Formats` may instead hold
/// its rows in interleaved groups of eight (`layout` `.rows8`, InterleavedRows.swift): the same bytes per
/// group, so sizes and group addresses are the row-major ones.
public struct WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let format: WeightFormat
    public let base: UnsafeRawPointer
    public let owner: AnyObject?
    public let layout: RowLayout

    public init(rows: Int, cols: Int, format: WeightFormat, base: UnsafeRawPointer, owner: AnyObject?, layout: RowLayout = .rowMajor) {
        precondition(format.canHoldRow(of: cols), "a \(format.name) row must be whole blocks")
        precondition(layout == .rowMajor || (Self.hasRows8Layout(format) && rows % 8 == 0), "rows8 groups are whole groups of rows of a rows8 format")
        self.rows = rows
        self.cols = cols
        self.format = format
        self.base = base
        self.owner = owner
        self.layout = layout
    }

    public var rowBytes: Int { format.bytesPerRow(cols) }
    public var byteCount: Int { rows * rowBytes }

    /// The mapped file the rows live in, when they live in one (not in a cache slot or the heap).
    public var mappedFile: MappedFile? { owner as? MappedFile }

    /// Row `row`'s bytes; row-major matrices only (a rows8 row is spread over its group).
    @inline(__always) public func rowPointer(_ row: Int) -> UnsafeRawPointer {
        precondition(layout == .rowMajor, "a rows8 matrix has no contiguous rows")
        return base + row * rowBytes
    }

    /// Rows `range` as a matrix of their own: how the fused MoE++ `up_proj` splits into gate and
    /// up. No copy, except for a rows8 matrix cut inside a group: then the rows come out
    /// row-major in storage of their own.
    public func rowSlice(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows)
        guard layout == .rows8 else {
            return WeightMatrix(rows: range.count, cols: cols, format: format, base: rowPointer(range.lowerBound), owner: owner)
        }
        if range.lowerBound % 8 == 0 && range.count % 8 == 0 {
            return WeightMatrix(rows: range.count, cols: cols, format: format, base: base + range.lowerBound * rowBytes, owner: owner, layout: .rows8)
        }
        let storage = ByteStorage(count: range.count * rowBytes)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 8 * rowBytes, alignment: 64)
        defer { scratch.deallocate() }
        copyRowMajorBytes(rows: range, into: storage.pointer, groupScratch: scratch)
        return WeightMatrix(rows: range.count, cols: cols, format: format, base: UnsafeRawPointer(storage.pointer), owner: storage)
    }

    /// Element (row, col) widened to Float; for references, tests and tools, not hot loops.
    public func element(_ row: Int, _ col: Int) -> Float {
        guard layout == .rows8 else { return loadElement(rowPointer(row), format, col) }
        return withRowMajorRow(row) { loadElement($0, format, col) }
    }

    /// Row `row` widened into `out` (embedding lookup).
    public func copyRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        guard layout == .rows8 else { convertToFloat(rowPointer(row), format, count: cols, into: out); return }
        withRowMajorRow(row) { convertToFloat($0, format, count: cols, into: out) }
    }

    /// Rows `range` widened into `out` (range.count × cols floats), whatever the layout.
    public func widenRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        guard layout == .rows8 else { convertToFloat(rowPointer(range.lowerBound), format, count: range.count * cols, into: out); return }
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: (range.count + 8) * rowBytes, alignment: 64)
        defer { bytes.deallocate() }
        copyRowMajorBytes(rows: range, into: bytes, groupScratch: bytes + range.count * rowBytes)
        convertToFloat(UnsafeRawPointer(bytes), format, count: range.count * cols, into: out)
    }

    /// Row `row` of a rows8 matrix, unpacked row-major into a temporary buffer for `body`.
    private func withRowMajorRow<R>(_ row: Int, _ body: (UnsafeRawPointer) -> R) -> R {
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: 9 * rowBytes, alignment: 64)
        defer { bytes.deallocate() }
        copyRowMajorBytes(rows: row..<row + 1, into: bytes, groupScratch: bytes + rowBytes)
        return body(UnsafeRawPointer(bytes))
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
