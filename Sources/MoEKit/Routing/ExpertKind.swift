/// What an expert is. A router's slots: every family numbers FFN experts first (router index =
/// FFN expert number); MoE++ appends its zero-computation experts: constants E−4 and E−3, copy
/// E−2, zero E−1. Outside the router, `shared(i)` is an FFN every token passes through (Qwen2-MoE's
/// and DeepSeek's shared experts; a dense layer's one FFN is recorded as `shared(0)`): always on,
/// never a router slot. Records, exports, the TUI and statistics all use this one typed value.
public enum ExpertKind: Hashable, Sendable, CustomStringConvertible {
    case ffn(Int)
    case constant(Int)
    case copy
    case zero
    case shared(Int)

    /// The kind without its number: what statistics and toggles group by.
    public enum Category: String, CaseIterable, Sendable, Codable {
        case ffn, zero, copy, constant, shared

        /// The short name used in slot-share tables ("ffn", "zero", "copy", "const").
        public var shareName: String { self == .constant ? "const" : rawValue }
    }

    public var category: Category {
        switch self {
        case .ffn: return .ffn
        case .constant: return .constant
        case .copy: return .copy
        case .zero: return .zero
        case .shared: return .shared
        }
    }

    /// A routed FFN expert (shared experts are FFNs too, but not the router's to choose).
    public var isFFN: Bool { category == .ffn }

    /// One-letter glyph used by the CLI and the TUI: F, K (constant), C (copy), Z (zero), S (shared).
    public var glyph: String {
        switch self {
        case .ffn: return "F"
        case .constant: return "K"
        case .copy: return "C"
        case .zero: return "Z"
        case .shared: return "S"
        }
    }

    /// "ffn3", "const0", "copy", "zero", "shared0": the spelling in routing exports.
    public var description: String {
        switch self {
        case .ffn(let i): return "ffn\(i)"
        case .constant(let i): return "const\(i)"
        case .copy: return "copy"
        case .zero: return "zero"
        case .shared(let i): return "shared\(i)"
        }
    }

    /// Parses `description`'s spelling (routing exports written by moepp).
    public init?(_ text: String) {
        switch text {
        case "copy": self = .copy
        case "zero": self = .zero
        default:
            if text.hasPrefix("ffn"), let i = Int(text.dropFirst(3)), i >= 0 { self = .ffn(i) }
            else if text.hasPrefix("const"), let i = Int(text.dropFirst(5)), i >= 0 { self = .constant(i) }
            else if text.hasPrefix("shared"), let i = Int(text.dropFirst(6)), i >= 0 { self = .shared(i) }
            else { return nil }
        }
    }
}

/// Exports keep the readable spelling ("ffn3"), decoded back into the typed value.
extension ExpertKind: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let kind = ExpertKind(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown expert kind \(text.quotedForMessage)")
        }
        self = kind
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
