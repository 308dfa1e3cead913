import Foundation

/// Whether a value from `JSONSerialization` is JSON null (or absent). Compares the dynamic type
/// instead of `is NSNull`: on Linux that cast bridges a whole nested array to NSArray first,
/// which made reading a 4096-token vLLM response take seconds — and a tokenizer.json's merges
/// list is as large. Every JSON reader in the engine asks this way.
func isJSONNull(_ value: Any?) -> Bool {
    guard let value else { return true }
    return ObjectIdentifier(type(of: value)) == ObjectIdentifier(NSNull.self)
}

/// Typed reads from a decoded JSON object that fail with a one-line error naming file and key.
public struct JSONFields {
    let object: [String: Any]
    let file: String
    /// Path of this object inside the file's top level, for error messages ("rope_parameters.").
    var prefix = ""

    init(data: Data, file: String) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CheckpointError(file: file, "not a JSON object")
        }
        self.object = object
        self.file = file
    }

    init(object: [String: Any], file: String, prefix: String = "") {
        self.object = object
        self.file = file
        self.prefix = prefix
    }

    public func has(_ key: String) -> Bool { !isJSONNull(object[key] ?? nil) }

    public func fail(_ key: String, _ why: String) -> CheckpointError { .badKey(prefix + key, file: file, why) }

    private func describe(_ value: Any?) -> String {
        guard let value else { return "nothing" }
        if isJSONNull(value) { return "null" }
        if let text = value as? String { return "\"\(text)\"" }
        return "\(value)"
    }

    /// JSON true/false arrive as NSNumber too (objCType "c"); `is Bool` would also accept 0 and 1.
    private func isBoolean(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return number.objCType.pointee == 0x63
    }

    private func integerValue(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, !isBoolean(value), Double(number.intValue) == number.doubleValue else { return nil }
        return number.intValue
    }

    /// `maximum` keeps absurd sizes (a billion layers) from reaching an allocation.
    public func int(_ key: String, default fallback: Int? = nil, minimum: Int = 1, maximum: Int = Int.max) throws -> Int {
        guard has(key) else {
            if let fallback { return fallback }
            throw fail(key, "missing")
        }
        guard let value = integerValue(object[key]), value >= minimum, value <= maximum else {
            let range = maximum == Int.max ? "≥ \(minimum)" : "in \(minimum)…\(maximum)"
            throw fail(key, "expected an integer \(range), found \(describe(object[key]))")
        }
        return value
    }

    /// A nested object (`rope_parameters`), read with the same one-line errors ("key 'a.b'").
    public func nested(_ key: String) throws -> JSONFields? {
        guard has(key) else { return nil }
        guard let inner = object[key] as? [String: Any] else { throw fail(key, "expected an object, found \(describe(object[key]))") }
        return JSONFields(object: inner, file: file, prefix: prefix + key + ".")
    }

    public func double(_ key: String, default fallback: Double? = nil, positive: Bool = true) throws -> Double {
        guard has(key) else {
            if let fallback { return fallback }
            throw fail(key, "missing")
        }
        guard let number = object[key] as? NSNumber, !isBoolean(object[key]), number.doubleValue.isFinite,
              !positive || number.doubleValue > 0 else {
            throw fail(key, "expected a \(positive ? "positive " : "")number, found \(describe(object[key]))")
        }
        return number.doubleValue
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard has(key) else { return fallback }
        guard isBoolean(object[key]), let value = object[key] as? Bool else { throw fail(key, "expected true or false, found \(describe(object[key]))") }
        return value
    }

    public func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard has(key) else {
            if let fallback { return fallback }
            throw fail(key, "missing")
        }
        guard let value = object[key] as? String else { throw fail(key, "expected a string, found \(describe(object[key]))") }
        return value
    }

    /// An integer or a list of integers (`eos_token_id`, MoE++'s `num_experts: [20]`).
    public func intList(_ key: String, minimum: Int = 0) throws -> [Int]? {
        guard has(key) else { return nil }
        if let single = integerValue(object[key]) {
            guard single >= minimum else { throw fail(key, "expected an integer ≥ \(minimum), found \(single)") }
            return [single]
        }
        guard let list = object[key] as? [Any] else { throw fail(key, "expected an integer or a list of integers, found \(describe(object[key]))") }
        return try list.map { item in
            guard let value = integerValue(item), value >= minimum else {
                throw fail(key, "expected integers ≥ \(minimum), found \(describe(item))")
            }
            return value
        }
    }
}
