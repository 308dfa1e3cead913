import Foundation

/// A GGUF (version 3) file, parsed from its mapping without copying tensor data:
/// magic `GGUF`, `u32 version`, `u64 tensor_count`, `u64 metadata_kv_count`; the key–value pairs;
/// the tensor infos (name, `u32 n_dims`, `u64 dims[n]` in ggml order — `dims[0]` is the
/// contiguous row length —, `u32 type`, `u64 offset` from the data start); padding to
/// `general.alignment` (default 32); the data. Little-endian throughout.
///
/// Strict like the safetensors reader: every count, length and byte range is checked against the
/// file before it is used, so a hostile or truncated file is a one-line error naming the file,
/// the field or tensor and the byte position — never a trap or an out-of-file read. Tensors are
/// named and shaped as in the file (GGUF names, PyTorch-order shapes: ggml dims reversed);
/// `GGUFModel` maps them to Hugging Face names.
public final class GGUFFile: TensorSource, @unchecked Sendable {
    public let file: MappedFile
    public let version: UInt32
    public let metadata: GGUFMetadata
    public private(set) var tensors: [String: TensorView] = [:]
    /// Tensor names in file order.
    public private(set) var tensorNames: [String] = []
    public let alignment: Int
    /// Byte offset of the data section (tensor offsets count from here).
    public let dataStart: Int

    static let magic: UInt32 = 0x4655_4747   // "GGUF" read little-endian
    static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    static let maximumDimensions = 4
    /// Arrays of arrays deeper than this are refused (no file needs them; recursion stays bounded).
    static let maximumNesting = 8

    public init(path: String, loading: WeightLoading = .mapped) throws {
        file = try MappedFile(path: path, loading: loading)
        var cursor = GGUFCursor(file: file)
        let magic = try cursor.uint32("magic")
        guard magic == Self.magic else {
            let bytes = withUnsafeBytes(of: magic.littleEndian) { Array($0) }
            let shown = bytes.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
            throw CheckpointError(file: path, "not a GGUF file: magic \"\(shown)\" at byte 0, expected \"GGUF\"")
        }
        version = try cursor.uint32("version")
        guard version == 3 else {
            let hint = version.byteSwapped == 3 || version.byteSwapped == 2 ? " (a big-endian file; moepp reads little-endian GGUF)" : " (moepp reads GGUF version 3)"
            throw CheckpointError(file: path, "GGUF version \(version) at byte 4 is not supported\(hint)")
        }
        let tensorCount = try cursor.count("tensor_count", minimumItemBytes: 24)
        let keyCount = try cursor.count("metadata_kv_count", minimumItemBytes: 13)

        var metadata = GGUFMetadata(file: path)
        for index in 0..<keyCount {
            let position = cursor.position
            let key = try cursor.string("metadata key \(index)")
            guard !metadata.has(key) else { throw cursor.fail("metadata key \(key.quotedForMessage) appears twice", at: position) }
            let type = try cursor.uint32("type of metadata key \(key.quotedForMessage)")
            metadata.append(key, try cursor.value(type: type, field: "metadata key \(key.quotedForMessage)", depth: 0), position: position)
        }
        self.metadata = metadata

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard case .uint32(let raw) = value else { throw metadata.fail("general.alignment", "expected a u32, found \(value.typeName)") }
            guard raw > 0, raw & (raw - 1) == 0 else { throw metadata.fail("general.alignment", "\(raw) is not a power of two") }
            alignment = Int(raw)
        }
        self.alignment = alignment

        struct Info { let name: String; let type: GGMLType; let format: WeightFormat; let shape: [Int]; let offset: Int; let bytes: Int; let position: Int }
        var infos: [Info] = []
        var seen = Set<String>()
        for index in 0..<tensorCount {
            let position = cursor.position
            let name = try cursor.string("tensor info \(index) name")
            let field = "tensor \(name.quotedForMessage)"
            guard seen.insert(name).inserted else { throw cursor.fail("\(field) appears twice", at: position) }
            let dimensionCount = try cursor.uint32("\(field) n_dims")
            guard dimensionCount <= Self.maximumDimensions else {
                throw cursor.fail("\(field): \(dimensionCount) dimensions (ggml allows at most \(Self.maximumDimensions))", at: cursor.position - 4)
            }
            var dims: [Int] = []
            var elements = 1
            for d in 0..<Int(dimensionCount) {
                let raw = try cursor.uint64("\(field) dims[\(d)]")
                guard let dim = Int(exactly: raw), dim <= Int(Int32.max) * 1024 else {
                    throw cursor.fail("\(field): dimension \(d) is \(raw), more than any file can hold", at: cursor.position - 8)
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw cursor.fail("\(field): dims \(dims + [dim]) hold more elements than fit in memory", at: cursor.position - 8) }
                dims.append(dim)
                elements = product
            }
            let typeId = try cursor.uint32("\(field) type")
            guard let type = GGMLType(id: typeId) else {
                throw cursor.fail("\(field): unknown ggml type \(typeId)", at: cursor.position - 4)
            }
            let offsetRaw = try cursor.uint64("\(field) offset")
            let rowLength = dims.first ?? 1
            guard rowLength % type.blockSize == 0 else {
                throw cursor.fail("\(field): rows of \(rowLength) elements are not whole \(type.name) blocks of \(type.blockSize)", at: position)
            }
            guard let format = type.weightFormat else {
                let supported = WeightFormat.allCases.map { $0.rawValue.uppercased() }.joined(separator: ", ")
                throw CheckpointError(file: path, "tensor \(name.quotedForMessage): ggml type \(type) is not supported (moepp computes with \(supported))")
            }
            guard let bytes = type.byteCount(elements: elements), let offset = Int(exactly: offsetRaw) else {
                throw cursor.fail("\(field): \(elements) elements at offset \(offsetRaw) exceed any file", at: position)
            }
            infos.append(Info(name: name, type: type, format: format, shape: dims.reversed(), offset: offset, bytes: bytes, position: position))
            tensorNames.append(name)
        }

        // The data section starts at the next multiple of the alignment (a file of metadata only
        // may end before it).
        let (padded, overflow) = cursor.position.addingReportingOverflow(alignment - 1)
        dataStart = overflow ? Int.max : padded / alignment * alignment
        let dataBytes = max(0, file.size - dataStart)
        for info in infos {
            let field = "tensor \(info.name.quotedForMessage)"
            guard info.offset % alignment == 0 else {
                throw CheckpointError(file: path, "\(field): data offset \(info.offset) is not a multiple of the alignment \(alignment) (tensor info at byte \(info.position))")
            }
            guard info.offset <= dataBytes, info.bytes <= dataBytes - info.offset else {
                throw CheckpointError(file: path, "\(field): data at bytes \(dataStart)+\(info.offset)..<+\(info.offset + info.bytes) runs beyond the file (\(file.size) bytes; truncated?)")
            }
        }
        // Each tensor owns its bytes: sorted by offset, each must start at or after the previous
        // one's end (gaps — padding — are allowed, overlaps are not).
        var previous: Info?
        for info in infos.sorted(by: { ($0.offset, $0.bytes) < ($1.offset, $1.bytes) }) {
            if let previous, info.offset < previous.offset + previous.bytes {
                throw CheckpointError(file: path, "tensor \(info.name.quotedForMessage): data at data-section bytes \(info.offset)..<\(info.offset + info.bytes) overlaps tensor \(previous.name.quotedForMessage) (\(previous.offset)..<\(previous.offset + previous.bytes))")
            }
            previous = info
        }
        for info in infos {
            tensors[info.name] = TensorView(name: info.name, format: info.format, shape: info.shape, base: file.base + dataStart + info.offset, file: file)
        }
    }

    public var architecture: String? { try? metadata.string("general.architecture") }
}

/// Reads little-endian fields from a mapped file, every read bounds-checked; failures name the
/// field and the byte position.
struct GGUFCursor {
    let file: MappedFile
    var position = 0

    init(file: MappedFile) { self.file = file }

    var remaining: Int { file.size - position }

    func fail(_ why: String, at position: Int) -> CheckpointError {
        CheckpointError(file: file.path, "\(why) (byte \(position))")
    }

    private mutating func take<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw CheckpointError(file: file.path, "truncated: \(field()) at byte \(position) needs \(size) bytes, the file ends at \(file.size)")
        }
        let value = T(littleEndian: file.base.loadUnaligned(fromByteOffset: position, as: T.self))
        position += size
        return value
    }

    mutating func uint8(_ field: @autoclosure () -> String) throws -> UInt8 { try take(UInt8.self, field()) }
    mutating func uint16(_ field: @autoclosure () -> String) throws -> UInt16 { try take(UInt16.self, field()) }
    mutating func uint32(_ field: @autoclosure () -> String) throws -> UInt32 { try take(UInt32.self, field()) }
    mutating func uint64(_ field: @autoclosure () -> String) throws -> UInt64 { try take(UInt64.self, field()) }

    /// A u64 count of items that each take at least `minimumItemBytes`: a count the rest of the
    /// file cannot hold is refused before anything is allocated for it.
    mutating func count(_ field: String, minimumItemBytes: Int) throws -> Int {
        let start = position
        let raw = try uint64(field)
        guard raw <= UInt64(remaining / max(1, minimumItemBytes)) else {
            throw fail("\(field) \(raw) is more than the remaining \(remaining) bytes can hold", at: start)
        }
        return Int(raw)
    }

    /// `u64 length` + UTF-8 bytes (invalid sequences become U+FFFD, as a string cannot carry them).
    mutating func string(_ field: @autoclosure () -> String) throws -> String {
        let start = position
        let length = try uint64("\(field()) length")
        guard length <= UInt64(remaining) else {
            throw fail("\(field()): string of \(length) bytes runs beyond the file (\(remaining) bytes left)", at: start)
        }
        let text = String(decoding: UnsafeRawBufferPointer(start: file.base + position, count: Int(length)), as: UTF8.self)
        position += Int(length)
        return text
    }

    /// `field` is formed only when a read fails: a vocabulary array holds 10⁵ items.
    mutating func value(type: UInt32, field: @autoclosure () -> String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try uint8(field()))
        case 1: return .int8(Int8(bitPattern: try uint8(field())))
        case 2: return .uint16(try uint16(field()))
        case 3: return .int16(Int16(bitPattern: try uint16(field())))
        case 4: return .uint32(try uint32(field()))
        case 5: return .int32(Int32(bitPattern: try uint32(field())))
        case 6: return .float32(Float(bitPattern: try uint32(field())))
        case 7:
            let start = position
            let byte = try uint8(field())
            guard byte <= 1 else { throw fail("\(field()): bool byte \(byte) is neither 0 nor 1", at: start) }
            return .bool(byte == 1)
        case 8: return .string(try string(field()))
        case 9:
            let start = position
            guard depth < GGUFFile.maximumNesting else { throw fail("\(field()): arrays nested deeper than \(GGUFFile.maximumNesting)", at: start) }
            let itemType = try uint32("\(field()) array item type")
            let minimum: Int
            switch itemType {
            case 0, 1, 7: minimum = 1
            case 2, 3: minimum = 2
            case 4, 5, 6: minimum = 4
            case 8, 10, 11, 12: minimum = 8
            case 9: minimum = 12
            default: throw fail("\(field()): unknown array item type \(itemType)", at: start)
            }
            let count = try self.count("\(field()) array count", minimumItemBytes: minimum)
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for index in 0..<count {
                items.append(try value(type: itemType, field: "\(field())[\(index)]", depth: depth + 1))
            }
            return .array(itemType: itemType, items)
        case 10: return .uint64(try uint64(field()))
        case 11: return .int64(Int64(bitPattern: try uint64(field())))
        case 12: return .float64(Double(bitPattern: try uint64(field())))
        default: throw fail("\(field()): unknown value type \(type)", at: position - 4)
        }
    }
}
