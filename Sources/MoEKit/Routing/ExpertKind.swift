/// What an expert slot of a router is. Every family numbers FFN experts first (router index =
/// FFN expert number); MoE++ appends its zero-computation experts: constants E−4 and E−3, copy
/// E−2, zero E−1. Records, exports, the TUI and statistics all use this one typed value.
public enum ExpertKind: Hashable, Sendable, CustomStringConvertible {
    case ffn(Int)
    case constant(Int)
    case copy
    case zero

    /// The kind without its number: what statistics and toggles group by.
    public enum Category: String, CaseIterable, Sendable, Codable {
        case ffn, zero, copy, constant

        /// The short name used in slot-share tables ("ffn", "zero", "copy", "const").
        public var shareName: String { self == .constant ? "const" : rawValue }
    }

    /// Keys of the slot-share tables in `compare` and `bench` output.
    public var categoryName: String { category.shareName }

    public var category: Category {
        switch self {
        case .ffn: return .ffn
        case .constant: return .constant
        case .copy: return .copy
        case .zero: return .zero
        }
    }

    public var isFFN: Bool { category == .ffn }

    /// One-letter glyph used by the CLI and the TUI: F, K (constant), C (copy), Z (zero).
    public var glyph: String {
        switch self {
        case .ffn: return "F"
        case .constant: return "K"
        case .copy: return "C"
        case .zero: return "Z"
        }
    }

    /// "ffn3", "const0", "copy", "zero": the spelling in routing exports.
    public var description: String {
        switch self {
        case .ffn(let i): return "ffn\(i)"
        case .constant(let i): return "const\(i)"
        case .copy: return "copy"
        case .zero: return "zero"
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
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown expert kind \"\(text)\"")
        }
        self = kind
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
