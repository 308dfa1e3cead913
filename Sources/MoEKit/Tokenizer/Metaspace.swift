/// How the SentencePiece-style `tokenizer.json` spelling turns a text section into words of
/// Unicode scalars: every U+0020 becomes "▁", a "▁" may be prepended, and (`split`) words start
/// at each "▁". A "section" is the text between added tokens; Hugging Face applies this per section.
///
/// Works on Unicode scalars, never on Characters: a space followed by a combining mark is one
/// grapheme cluster (" ◌́"), which String-level replacement would not see as a space.
public struct Metaspace: Equatable, Sendable {
    public enum PrependScheme: String, Sendable {
        /// Every section gets a "▁" in front.
        case always
        /// Only the section that starts the text (HF: `offsets_original().0 == 0`).
        case first
        case never
    }

    public var prependScheme: PrependScheme
    /// The Metaspace pre-tokenizer does not prepend to a section that already starts with "▁";
    /// the older `Prepend("▁")` normalizer spelling always prepends.
    public var prependOnlyIfMissing: Bool
    public var split: Bool

    public init(prependScheme: PrependScheme, prependOnlyIfMissing: Bool, split: Bool) {
        self.prependScheme = prependScheme
        self.prependOnlyIfMissing = prependOnlyIfMissing
        self.split = split
    }

    static let replacement: Unicode.Scalar = "\u{2581}"

    /// The words of one non-empty section; `startsText` says whether it begins at offset 0.
    func words(_ section: String, startsText: Bool) -> [[Unicode.Scalar]] {
        var scalars = section.unicodeScalars.map { $0 == " " ? Self.replacement : $0 }
        let prepend = switch prependScheme {
        case .always: true
        case .first: startsText
        case .never: false
        }
        if prepend && !(prependOnlyIfMissing && scalars.first == Self.replacement) {
            scalars.insert(Self.replacement, at: 0)
        }
        guard split else { return [scalars] }
        // Each "▁" starts a new word (HF's SplitDelimiterBehavior::MergedWithNext).
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in scalars {
            if scalar == Self.replacement && !current.isEmpty {
                words.append(current)
                current = []
            }
            current.append(scalar)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
