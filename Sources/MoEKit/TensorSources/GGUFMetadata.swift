/// One GGUF metadata value. Types by id: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool,
/// 8 string, 9 array (item type, count, items — arrays of arrays allowed), 10 u64, 11 i64, 12 f64.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String)
    /// Items all of `itemType` (kept so an empty array still says what it holds).
    case array(itemType: UInt32, [GGUFValue])
    case uint64(UInt64), int64(Int64), float64(Double)

    static let typeNames = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"]

    static func typeName(_ id: UInt32) -> String { id < typeNames.count ? typeNames[Int(id)] : "type \(id)" }

    public var typeName: String {
        switch self {
        case .uint8: return "u8"
        case .int8: return "i8"
        case .uint16: return "u16"
        case .int16: return "i16"
        case .uint32: return "u32"
        case .int32: return "i32"
        case .float32: return "f32"
        case .bool: return "bool"
        case .string: return "string"
        case .array(let type, let items): return "array of \(items.count) \(Self.typeName(type))"
        case .uint64: return "u64"
        case .int64: return "i64"
        case .float64: return "f64"
        }
    }

    /// Any integer type, if it fits an Int.
    public var integer: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// Any number (integers widen).
    public var number: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return integer.map(Double.init)
        }
    }
}

/// The key–value pairs of a GGUF file, in file order, with typed reads that fail in one line
/// naming the file and key (and the key's byte position).
public struct GGUFMetadata: Sendable {
    public let file: String
    public private(set) var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var positions: [String: Int] = [:]

    init(file: String) { self.file = file }

    mutating func append(_ key: String, _ value: GGUFValue, position: Int) {
        keys.append(key)
        values[key] = value
        positions[key] = position
    }

    public subscript(key: String) -> GGUFValue? { values[key] }
    public func has(_ key: String) -> Bool { values[key] != nil }

    public func fail(_ key: String, _ why: String) -> CheckpointError {
        let position = positions[key].map { " (at byte \($0))" } ?? ""
        return CheckpointError(file: file, "metadata key '\(key)'\(position): \(why)")
    }

    public func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let value = values[key] else {
            if let fallback { return fallback }
            throw fail(key, "missing")
        }
        guard case .string(let text) = value else { throw fail(key, "expected a string, found \(value.typeName)") }
        return text
    }

    public func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = values[key] else {
            if let fallback { return fallback }
            throw fail(key, "missing")
        }
        guard let number = value.integer else { throw fail(key, "expected an integer, found \(value.typeName)") }
        return number
    }

    public func double(_ key: String, default fallback: Double? = nil) throws -> Double {
        guard let value = values[key] else {
            if let fallback { return fallback }
            throw fail(key, "missing")
        }
        guard let number = value.number, number.isFinite else { throw fail(key, "expected a finite number, found \(value.typeName)") }
        return number
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = values[key] else { return fallback }
        guard case .bool(let flag) = value else { throw fail(key, "expected a bool, found \(value.typeName)") }
        return flag
    }

    public func array(_ key: String) throws -> [GGUFValue]? {
        guard let value = values[key] else { return nil }
        guard case .array(_, let items) = value else { throw fail(key, "expected an array, found \(value.typeName)") }
        return items
    }

    public func strings(_ key: String) throws -> [String]? {
        try array(key)?.enumerated().map { index, item in
            guard case .string(let text) = item else { throw fail(key, "item \(index) is \(item.typeName), expected a string") }
            return text
        }
    }

    public func numbers(_ key: String) throws -> [Double]? {
        try array(key)?.enumerated().map { index, item in
            guard let number = item.number else { throw fail(key, "item \(index) is \(item.typeName), expected a number") }
            return number
        }
    }

    public func integers(_ key: String) throws -> [Int]? {
        try array(key)?.enumerated().map { index, item in
            guard let number = item.integer else { throw fail(key, "item \(index) is \(item.typeName), expected an integer") }
            return number
        }
    }
}
