import Foundation

/// A `.safetensors` file: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`),
/// then the data; offsets are relative to the end of the header. Everything is validated here so
/// that a kernel never reads outside the file.
public final class SafeTensorsFile: TensorSource, @unchecked Sendable {
    public let file: MappedFile
    public private(set) var tensors: [String: TensorView] = [:]
    public private(set) var metadata: [String: String] = [:]

    public init(path: String, loading: WeightLoading = .mapped) throws {
        file = try MappedFile(path: path, loading: loading)
        guard file.size >= 8 else { throw CheckpointError(file: path, "truncated: \(file.size) bytes, no header length") }
        let headerLength = Int(clamping: UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self)))
        guard headerLength <= file.size - 8 else {
            throw CheckpointError(file: path, "header length \(headerLength) runs beyond the file (\(file.size) bytes)")
        }
        let headerData = Data(bytes: file.base + 8, count: headerLength)
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw CheckpointError(file: path, "header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = file.size - dataStart
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let strings = entry as? [String: String] else { throw CheckpointError(file: path, "__metadata__ is not an object of strings") }
                metadata = strings
                continue
            }
            let (view, begin, end) = try Self.parseEntry(name, entry, path: path, dataStart: dataStart, dataSize: dataSize, file: file)
            tensors[name] = view
            spans.append((begin, end, name))
        }
        try Self.checkTiling(spans, dataSize: dataSize, path: path)
    }

    /// As strict as the reference loader: the tensors' byte ranges, in order, must cover the data
    /// buffer exactly — no gap, no overlap, nothing after. A header length off by a byte, a
    /// duplicated name (JSON keeps one) or a truncated file then fails here instead of loading
    /// shifted weights.
    private static func checkTiling(_ spans: [(begin: Int, end: Int, name: String)], dataSize: Int, path: String) throws {
        var expected = 0
        for span in spans.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if span.begin > expected {
                throw CheckpointError(file: path, "tensor '\(span.name)': data starts at byte \(span.begin), leaving bytes \(expected)..<\(span.begin) unused (header length or offsets wrong?)")
            }
            if span.begin < expected {
                throw CheckpointError(file: path, "tensor '\(span.name)': data at bytes \(span.begin)..<\(span.end) overlaps another tensor's")
            }
            expected = span.end
        }
        guard expected == dataSize else {
            throw CheckpointError(file: path, "\(dataSize - expected) bytes after the last tensor's data (header length or offsets wrong?)")
        }
    }

    private static func parseEntry(_ name: String, _ entry: Any, path: String, dataStart: Int, dataSize: Int, file: MappedFile) throws -> (TensorView, Int, Int) {
        func fail(_ why: String) -> CheckpointError { CheckpointError(file: path, "tensor '\(name)': \(why)") }
        guard let fields = entry as? [String: Any] else { throw fail("entry is not an object") }
        guard let dtypeName = fields["dtype"] as? String else { throw fail("no dtype") }
        guard let format = WeightFormat(rawValue: dtypeName), format.elementsPerBlock == 1 else {
            throw fail("unsupported dtype '\(dtypeName)' (supported: F32, F16, BF16)")
        }
        guard let shapeValues = fields["shape"] as? [Any], let shape = Self.integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
            throw fail("shape is not a list of non-negative integers")
        }
        guard let offsetValues = fields["data_offsets"] as? [Any], let offsets = Self.integers(offsetValues), offsets.count == 2,
              offsets[0] >= 0, offsets[0] <= offsets[1] else {
            throw fail("data_offsets is not [begin, end]")
        }
        guard offsets[1] <= dataSize else {
            throw fail("data ends at byte \(offsets[1]) but the file holds \(dataSize) data bytes (truncated?)")
        }
        var expected = format.byteSize
        for dimension in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("shape \(shape) has more elements than fit in memory") }
            expected = product
        }
        guard offsets[1] - offsets[0] == expected else {
            throw fail("\(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtypeName) (expected \(expected))")
        }
        return (TensorView(name: name, format: format, shape: shape, base: file.base + dataStart + offsets[0], file: file), offsets[0], offsets[1])
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? NSNumber, Double(number.intValue) == number.doubleValue else { return nil }
            result.append(number.intValue)
        }
        return result
    }
}
