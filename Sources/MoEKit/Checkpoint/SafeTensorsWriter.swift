import Foundation

/// Writes tensors as a `.safetensors` file (header padded to 8 bytes, tensors in the order given).
/// The file appears atomically: it is written beside the target and renamed into place, so a
/// crash never leaves half a checkpoint.
public struct SafeTensorsWriter {
    public struct Entry {
        public let name: String
        public let dtype: WeightFormat
        public let shape: [Int]
        public let bytes: [UInt8]

        public init(name: String, dtype: WeightFormat, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(name: String, shape: [Int], values: [Float], dtype: WeightFormat = .f32) {
            precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
            self.init(name: name, dtype: dtype, shape: shape, bytes: encodeFloats(values, as: dtype))
        }
    }

    public var entries: [Entry] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, shape: [Int], values: [Float], dtype: WeightFormat = .f32) {
        entries.append(Entry(name: name, shape: shape, values: values, dtype: dtype))
    }

    public func write(to path: String) throws {
        var data = Data(safeTensorsHeader(entries.map { ($0.name, $0.dtype, $0.shape, $0.bytes.count) }, metadata: metadata))
        for entry in entries { data.append(contentsOf: entry.bytes) }
        try AtomicFile.write(data, to: path)
    }
}

/// The start of a `.safetensors` file: the 8-byte little-endian header length, then the JSON
/// header (`__metadata__`, then each tensor's dtype, shape and data offsets, in the order given,
/// laid end to end) padded with spaces to a multiple of 8. Both writers use it.
func safeTensorsHeader(_ tensors: [(name: String, format: WeightFormat, shape: [Int], byteCount: Int)], metadata: [String: String]) -> [UInt8] {
    var header = "{"
    if !metadata.isEmpty {
        let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
        header += "\"__metadata__\":{\(pairs.joined(separator: ","))},"
    }
    var offset = 0
    header += tensors.map { tensor in
        defer { offset += tensor.byteCount }
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        return "\(jsonString(tensor.name)):{\"dtype\":\"\(tensor.format.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + tensor.byteCount)]}"
    }.joined(separator: ",") + "}"
    while (header.utf8.count + 8) % 8 != 0 { header += " " }
    return withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8)
}

/// JSON string literal with the escapes JSON requires.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

/// Write-then-rename for files moepp writes for itself (configs, tokenizers, checkpoints' small
/// files): SafeFileWrite with replacement allowed — a temporary beside the target, fsync'ed,
/// renamed over it, the directory fsync'ed — and its errors as CheckpointErrors naming the file.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        do { try SafeFileWrite.write(data, to: path, replace: true) } catch let failure as SafeFileWrite.Failure {
            switch failure {
            case .exists: throw CheckpointError(file: path, "exists")
            case .notRegular(_, let what): throw CheckpointError(file: path, "is \(what), not a regular file: refused")
            case .system(_, let operation, let code): throw CheckpointError(file: path, "cannot \(operation): \(String(cString: strerror(code)))")
            }
        }
    }
}
