/// A bounds-checked reader of the protobuf wire format, just enough for `tokenizer.model`.
/// Every read checks the buffer first, so hostile bytes end in a `ProtobufError` naming the byte
/// position, never in a trap. Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32;
/// groups (3, 4) are long deprecated and refused.
struct ProtobufReader {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    struct Field {
        let number: Int
        let wireType: WireType
        /// Where the field's key starts, for error messages.
        let position: Int
    }

    let bytes: [UInt8]
    /// Offset of `bytes[0]` in the whole file, so that nested messages report file positions.
    let base: Int
    private(set) var offset = 0

    init(_ bytes: [UInt8], base: Int = 0) {
        self.bytes = bytes
        self.base = base
    }

    var isAtEnd: Bool { offset >= bytes.count }

    func fail(_ why: String, at position: Int? = nil) -> ProtobufError {
        ProtobufError(position: base + (position ?? offset), reason: why)
    }

    /// Base-128, least significant group first; at most 10 bytes and 64 bits.
    mutating func varint() throws -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        for index in 0..<10 {
            guard offset < bytes.count else { throw fail("varint runs past the end", at: start) }
            let byte = bytes[offset]
            offset += 1
            // The tenth byte may only carry the 64th bit.
            if index == 9 && byte > 1 { throw fail("varint overflows 64 bits", at: start) }
            value |= UInt64(byte & 0x7F) << UInt64(7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw fail("varint longer than 10 bytes", at: start)
    }

    mutating func field() throws -> Field {
        let position = offset
        let key = try varint()
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw fail("unsupported wire type \(key & 7)", at: position)
        }
        let number = key >> 3
        guard number >= 1 && number <= 0x1FFF_FFFF else { throw fail("invalid field number \(number)", at: position) }
        return Field(number: Int(number), wireType: wireType, position: position)
    }

    mutating func fixed32() throws -> UInt32 {
        guard bytes.count - offset >= 4 else { throw fail("fixed32 runs past the end") }
        var value: UInt32 = 0
        for k in 0..<4 { value |= UInt32(bytes[offset + k]) << UInt32(8 * k) }
        offset += 4
        return value
    }

    mutating func fixed64() throws -> UInt64 {
        guard bytes.count - offset >= 8 else { throw fail("fixed64 runs past the end") }
        var value: UInt64 = 0
        for k in 0..<8 { value |= UInt64(bytes[offset + k]) << UInt64(8 * k) }
        offset += 8
        return value
    }

    /// A length-delimited payload, with the file offset where it starts.
    mutating func lengthDelimited() throws -> (bytes: [UInt8], position: Int) {
        let start = offset
        let length = try varint()
        guard length <= UInt64(bytes.count - offset) else {
            throw fail("length \(length) runs past the end (\(bytes.count - offset) bytes left)", at: start)
        }
        let payload = Array(bytes[offset..<(offset + Int(length))])
        let position = base + offset
        offset += Int(length)
        return (payload, position)
    }

    /// Skips a field we do not read (proto2 keeps unknown fields legal).
    mutating func skip(_ field: Field) throws {
        switch field.wireType {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    // MARK: Typed reads that also check the wire type the schema expects.

    mutating func expect(_ field: Field, _ wireType: WireType) throws {
        guard field.wireType == wireType else {
            throw fail("field \(field.number) has wire type \(field.wireType.rawValue), expected \(wireType.rawValue)", at: field.position)
        }
    }

    /// int32 and enums: negative values travel as 10-byte varints, so keep the low 32 bits.
    mutating func int32(_ field: Field) throws -> Int32 {
        try expect(field, .varint)
        return Int32(truncatingIfNeeded: try varint())
    }

    mutating func bool(_ field: Field) throws -> Bool {
        try expect(field, .varint)
        return try varint() != 0
    }

    mutating func float(_ field: Field) throws -> Float {
        try expect(field, .fixed32)
        return Float(bitPattern: try fixed32())
    }

    mutating func bytesField(_ field: Field) throws -> [UInt8] {
        try expect(field, .lengthDelimited)
        return try lengthDelimited().bytes
    }

    /// A nested message as its own reader (positions stay file positions).
    mutating func message(_ field: Field) throws -> ProtobufReader {
        try expect(field, .lengthDelimited)
        let (payload, position) = try lengthDelimited()
        return ProtobufReader(payload, base: position)
    }
}

/// What is wrong with a `tokenizer.model`: where in the bytes, when it is about the encoding.
struct ProtobufError: Error, CustomStringConvertible {
    let position: Int?
    let reason: String

    init(position: Int? = nil, reason: String) {
        self.position = position
        self.reason = reason
    }

    var description: String { position.map { "byte \($0): \(reason)" } ?? reason }
}
