/// The writing half of the protobuf wire format: fields appended in the order given.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func key(_ number: Int, _ wireType: ProtobufReader.WireType) {
        varint(UInt64(number) << 3 | UInt64(wireType.rawValue))
    }

    /// int32 and enums; negative values are sign-extended to 64 bits as protobuf requires.
    mutating func int32(_ number: Int, _ value: Int32) {
        key(number, .varint)
        varint(UInt64(bitPattern: Int64(value)))
    }

    mutating func bool(_ number: Int, _ value: Bool) {
        key(number, .varint)
        varint(value ? 1 : 0)
    }

    mutating func float(_ number: Int, _ value: Float) {
        key(number, .fixed32)
        let bits = value.bitPattern
        for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(8 * k))) }
    }

    mutating func bytesField(_ number: Int, _ value: [UInt8]) {
        key(number, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ number: Int, _ value: String) { bytesField(number, Array(value.utf8)) }

    mutating func message(_ number: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        bytesField(number, inner.bytes)
    }
}
