/// Splits text into words the way GPT-2's byte-level pre-tokenizer does, i.e. the pattern
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// written out as a scanner (one pass, no regex engine). A word keeps its leading space, so
/// " the" and "the" are different words; runs of spaces leave their last space to the next word.
public enum ByteLevelPreTokenizer {
    enum CharacterClass { case letter, number, space, other }

    static func classify(_ scalar: Unicode.Scalar) -> CharacterClass {
        if scalar.properties.isWhitespace { return .space }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    static let contractions: [[Unicode.Scalar]] = ["re", "ve", "ll", "s", "t", "m", "d"].map { Array($0.unicodeScalars) }

    public static func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let classes = scalars.map(classify)
        var words: [String] = []
        var i = 0
        func run(from start: Int, of kind: CharacterClass) -> Int {
            var end = start
            while end < scalars.count && classes[end] == kind { end += 1 }
            return end
        }
        while i < scalars.count {
            var end = i + 1
            if scalars[i] == "'", let match = contractions.first(where: { c in
                i + c.count < scalars.count + 0 && Array(scalars[(i + 1)..<min(scalars.count, i + 1 + c.count)]) == c
            }) {
                end = i + 1 + match.count
            } else if classes[i] != .space || (scalars[i] == " " && i + 1 < scalars.count && classes[i + 1] != .space) {
                let start = classes[i] == .space ? i + 1 : i
                end = run(from: start, of: classes[start])
            } else {
                let runEnd = run(from: i, of: .space)
                end = (runEnd < scalars.count && runEnd - i > 1) ? runEnd - 1 : runEnd
            }
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[i..<end])
            words.append(String(word))
            i = end
        }
        return words
    }
}
