import Foundation

/// Reading the loosely shaped JSON of other engines' responses: values from `JSONSerialization`,
/// each access naming its path so a wrong shape is a one-line error.
struct JSONValue {
    let value: Any?
    let path: String
    let file: String

    static func parse(_ data: Data, file: String) throws -> JSONValue {
        do {
            return JSONValue(value: try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]), path: "", file: file)
        } catch {
            throw TraceError(file: file, "not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "parse error"))")
        }
    }

    func fail(_ why: String) -> TraceError { TraceError(file: file, path.isEmpty ? why : "at \(path): \(why)") }

    var isNull: Bool { isJSONNull(value) }
    var object: [String: Any]? { value as? [String: Any] }
    var array: [Any]? { value as? [Any] }

    func has(_ key: String) -> Bool { object.map { !isJSONNull($0[key] ?? nil) } ?? false }

    subscript(key: String) -> JSONValue {
        JSONValue(value: object?[key], path: path.isEmpty ? key : path + "." + key, file: file)
    }

    func elements() throws -> [JSONValue] {
        guard let array else { throw fail("expected an array") }
        return array.enumerated().map { JSONValue(value: $1, path: "\(path)[\($0)]", file: file) }
    }

    func int() throws -> Int {
        guard let number = value as? NSNumber,
              let exact = Int(exactly: number.doubleValue) else { throw fail("expected an integer") }
        return exact
    }

    func string() throws -> String {
        guard let text = value as? String else { throw fail("expected a string") }
        return text
    }

    func ints() throws -> [Int] { try elements().map { try $0.int() } }

    /// `[tokens][layers][slots]` of integers, every token with the same number of layers.
    func idArray() throws -> [[[Int]]] {
        let rows = try elements().map { try $0.elements().map { try $0.ints() } }
        if let first = rows.first, let bad = rows.firstIndex(where: { $0.count != first.count }) {
            throw JSONValue(value: nil, path: "\(path)[\(bad)]", file: file).fail("\(rows[bad].count) layers, but token 0 has \(first.count)")
        }
        return rows
    }
}
