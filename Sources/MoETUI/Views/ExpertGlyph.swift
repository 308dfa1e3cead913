import MoEKit

/// How an expert appears in the map: FFN experts by number (0–9, then a–z while a layer has at
/// most 36 of them, decimal beyond), zero-computation experts by a capital letter — Z zero,
/// C copy, K constant — and S for an always-on (shared) expert, each with its own colour.
public enum ExpertGlyph {
    /// FFN experts one cell can name: 0–9 and a–z.
    public static let oneCellFFNExperts = 36

    public static func glyph(_ kind: ExpertKind) -> String {
        switch kind {
        case .zero: return "Z"
        case .copy: return "C"
        case .constant: return "K"
        case .shared: return "S"
        case .ffn(let number):
            if number < 10 { return String(number) }
            if number < oneCellFFNExperts { return String(Character(Unicode.Scalar(UInt8(87 + number)))) }
            return String(number)
        }
    }

    /// True when every expert of the model has a one-cell glyph.
    public static func fitsOneCell(_ config: ModelConfig) -> Bool { config.numFFNExperts <= oneCellFFNExperts }

    public static func color(_ kind: ExpertKind) -> Color {
        switch kind.category {
        case .ffn: return .ffn
        case .zero: return .zero
        case .copy: return .copy
        case .constant: return .constant
        case .shared: return .ffn   // an FFN too; the glyph S tells it apart
        }
    }

    /// The heat of a token: FFN experts it ran per layer relative to the vanilla baseline.
    public static func heat(_ token: TokenRouting, baseline: Double) -> Style {
        guard !token.layers.isEmpty, baseline > 0 else { return Style() }
        return heat(ratio: token.meanFFNExpertsPerLayer / baseline)
    }

    /// FFN compute relative to a vanilla MoE: cool/dim below ½, warm below 0.85, hot/bold above.
    public static func heat(ratio: Double) -> Style {
        if ratio < 0.5 { return Style(.cool, dim: true) }
        if ratio < 0.85 { return Style(.warm) }
        return Style(.hot, bold: true)
    }
}
