/// A trace that cannot be read: one line naming the file and where in it (a JSON path, a token
/// position, a byte count). Traces are files the engine reads as it reads checkpoints, so they
/// fail the same way.
public typealias TraceError = CheckpointError

extension CheckpointError {
    /// A Codable failure as "at tokens[3].layers[1].chosen: …", one line.
    static func decoding(_ error: Error, file: String) -> TraceError {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        guard let error = error as? DecodingError else { return TraceError(file: file, "\(error)") }
        switch error {
        case .keyNotFound(let key, let context):
            return TraceError(file: file, "at \(path(context.codingPath + [key])): missing")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return TraceError(file: file, "at \(path(context.codingPath)): expected \(type)")
        case .dataCorrupted(let context):
            let detail = context.debugDescription.split(separator: "\n").first.map(String.init) ?? "not valid JSON"
            return TraceError(file: file, context.codingPath.isEmpty ? detail : "at \(path(context.codingPath)): \(detail)")
        @unknown default:
            return TraceError(file: file, "\(error)")
        }
    }
}
