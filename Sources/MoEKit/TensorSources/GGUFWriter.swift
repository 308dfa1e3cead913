import Foundation

/// A GGUF (version 3) file written as a stream — the layout `GGUFFile` reads:
/// magic `GGUF`, `u32 3`, `u64 tensor_count`, `u64 metadata_kv_count`; the key–value pairs (in the
/// order given, `general.alignment` first); the tensor infos (name, `u32 n_dims`, `u64 dims[n]`
/// in ggml order — the PyTorch shape reversed, `dims[0]` the row length —, `u32 type`,
/// `u64 offset`); zero padding to the alignment; the data, each tensor starting on a multiple of
/// the alignment. The header is known from the plan, so every tensor can be written as soon as it
/// is produced (a few rows at a time): the model is never in memory. The file appears under its
/// name only when finished (written as `path.partial`, then renamed).
public final class GGUFWriter: StreamingTensorWriter {
    public static let alignment = 32
    private let output: OutputFile
    private var pending: [PlannedTensor]
    /// Offset of each tensor's data from the data section's start, by plan order.
    private var offsets: [Int] = []
    private let dataStart: Int

    /// `metadata` in file order; `general.alignment` (u32 32) is written first by the writer.
    public init(path: String, metadata: [(key: String, value: GGUFValue)], plan: [PlannedTensor]) throws {
        var keys = Set<String>()
        for (key, _) in metadata where !keys.insert(key).inserted || key == "general.alignment" {
            throw CheckpointError(file: path, "metadata key '\(key)' given twice (general.alignment is the writer's)")
        }
        var header = GGUFBytes()
        header.append(UInt32(0x4655_4747))   // "GGUF"
        header.append(UInt32(3))
        header.append(UInt64(plan.count))
        header.append(UInt64(metadata.count + 1))
        header.appendString("general.alignment")
        header.append(value: .uint32(UInt32(Self.alignment)))
        for (key, value) in metadata {
            header.appendString(key)
            header.append(value: value)
        }
        var offset = 0
        for tensor in plan {
            guard let type = GGMLType(format: tensor.format) else {
                throw CheckpointError(file: path, "tensor '\(tensor.name)': no ggml type for \(tensor.format.name)")
            }
            guard !tensor.shape.isEmpty, tensor.shape.count <= GGUFFile.maximumDimensions,
                  tensor.format.canHoldRow(of: tensor.shape.last!) else {
                throw CheckpointError(file: path, "tensor '\(tensor.name)': shape \(tensor.shape) is not 1–4 dims of whole \(tensor.format.name) rows")
            }
            header.appendString(tensor.name)
            header.append(UInt32(tensor.shape.count))
            for dim in tensor.shape.reversed() { header.append(UInt64(dim)) }
            header.append(type.id)
            header.append(UInt64(offset))
            offsets.append(offset)
            offset = Self.aligned(offset + tensor.byteCount)
        }
        dataStart = Self.aligned(header.bytes.count)
        header.bytes += [UInt8](repeating: 0, count: dataStart - header.bytes.count)
        output = try OutputFile(path: path)
        pending = plan
        try output.write(header.bytes)
    }

    static func aligned(_ offset: Int) -> Int { (offset + alignment - 1) / alignment * alignment }

    /// The final file's path (`path.partial` until `finish`).
    public var path: String { output.path }
    public var temporaryPath: String { output.temporaryPath }

    public func write(_ tensor: PlannedTensor, fill: (UnsafeMutableRawBufferPointer, Int) -> Void) throws {
        try begin(tensor)
        try output.stream(count: tensor.byteCount, fill: fill)
    }

    /// Writes `tensor` a run of rows at a time: `produce(rows, into)` fills the bytes of those
    /// rows (whole rows of `tensor.format`). At most about 4 MiB of rows are held at once.
    public func writeRows(_ tensor: PlannedTensor, produce: (Range<Int>, UnsafeMutableRawPointer) throws -> Void) throws {
        try begin(tensor)
        let rowLength = tensor.shape.last!
        let rows = tensor.shape.dropLast().reduce(1, *)
        let rowBytes = tensor.format.bytesPerRow(rowLength)
        let rowsPerChunk = max(1, min(rows, (4 << 20) / max(1, rowBytes)))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, rowsPerChunk * rowBytes), alignment: 64)
        defer { buffer.deallocate() }
        var start = 0
        while start < rows {
            let end = min(rows, start + rowsPerChunk)
            try produce(start..<end, buffer)
            try output.write(UnsafeRawBufferPointer(start: buffer, count: (end - start) * rowBytes))
            start = end
        }
    }

    private func begin(_ tensor: PlannedTensor) throws {
        guard let next = pending.first, next.name == tensor.name, next.format == tensor.format, next.shape == tensor.shape else {
            throw CheckpointError(file: output.path, "tensor '\(tensor.name)' written out of plan order")
        }
        let index = offsets.count - pending.count
        pending.removeFirst()
        // Zero padding up to this tensor's aligned offset.
        let target = dataStart + offsets[index]
        if output.position < target { try output.write([UInt8](repeating: 0, count: target - output.position)) }
    }

    public func finish() throws {
        guard pending.isEmpty else { throw CheckpointError(file: output.path, "\(pending.count) planned tensors never written") }
        try output.commit()
    }
}

extension GGMLType {
    /// The ggml type a weight format is written as (its name is the ggml type's).
    public init?(format: WeightFormat) {
        guard let type = Self.byFormat[format] else { return nil }
        self = type
    }

    /// Built once: the writer asks for every tensor.
    static let byFormat: [WeightFormat: GGMLType] = Dictionary(
        Self.known.values.compactMap { type in type.weightFormat.map { ($0, type) } }, uniquingKeysWith: { first, _ in first })
}

/// Little-endian GGUF encoding of header fields and metadata values.
struct GGUFBytes {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func appendString(_ text: String) {
        append(UInt64(text.utf8.count))
        bytes += Array(text.utf8)
    }

    /// The value's type id, then the value (arrays: item type, count, items).
    mutating func append(value: GGUFValue) {
        append(value.typeId)
        appendPayload(value)
    }

    private mutating func appendPayload(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): appendString(v)
        case .array(let itemType, let items):
            append(itemType)
            append(UInt64(items.count))
            for item in items { appendPayload(item) }
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float64(let v): append(v.bitPattern)
        }
    }
}

extension GGUFValue {
    /// The GGUF value type id (0 u8 … 12 f64).
    public var typeId: UInt32 {
        switch self {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    public static func strings(_ items: [String]) -> GGUFValue { .array(itemType: 8, items.map { .string($0) }) }
    public static func float32s(_ items: [Float]) -> GGUFValue { .array(itemType: 6, items.map { .float32($0) }) }
    public static func int32s(_ items: [Int32]) -> GGUFValue { .array(itemType: 5, items.map { .int32($0) }) }
}
