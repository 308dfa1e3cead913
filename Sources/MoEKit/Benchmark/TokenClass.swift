/// Coarse linguistic classes of tokens, to see which spend fewer FFN experts (the MoE++ paper's
/// observation: punctuation, fragments and function words use fewer than content words).
public enum TokenClass: String, CaseIterable, Codable, Sendable {
    case punctuation, functionWord = "function word", contentWord = "content word", fragment = "word fragment", number, whitespace

    /// English function words, including the Early Modern forms of the corpus (thou, thee, hath…).
    static let functionWords: Set<String> = [
        "a", "an", "the", "and", "or", "but", "nor", "if", "then", "than", "so", "as", "of", "to", "in", "on", "at", "by", "for",
        "with", "from", "into", "unto", "upon", "up", "out", "off", "over", "under", "about", "against", "between", "through",
        "i", "me", "my", "mine", "we", "us", "our", "ours", "you", "your", "yours", "ye", "thou", "thee", "thy", "thine", "he",
        "him", "his", "she", "her", "hers", "it", "its", "they", "them", "their", "theirs", "this", "that", "these", "those",
        "who", "whom", "whose", "which", "what", "when", "where", "why", "how", "there", "here", "is", "am", "are", "was", "were",
        "be", "been", "being", "have", "has", "had", "hath", "hast", "do", "does", "did", "doth", "dost", "shall", "shalt",
        "will", "wilt", "would", "should", "may", "might", "must", "can", "could", "not", "no", "all", "any", "some", "such",
        "own", "same", "too", "very", "also", "yet", "now", "o", "oh", "let", "lo", "thus", "neither", "either", "both",
    ]

    /// `text` is the token's text, `previous` the text of the token before it.
    public static func classify(_ text: String, after previous: String?) -> TokenClass {
        let trimmed = text.trimmingLeadingSpaces
        if trimmed.isEmpty { return .whitespace }
        if trimmed.allSatisfy({ $0.isPunctuation || $0.isSymbol }) { return .punctuation }
        if trimmed.allSatisfy(\.isNumber) { return .number }
        let startsWord = text.first.map { $0 == " " || $0 == "\n" } ?? false
        if !startsWord, let last = previous?.last, last.isLetter || last == "'" { return .fragment }
        let word = trimmed.lowercased().filter(\.isLetter)
        return functionWords.contains(word) ? .functionWord : .contentWord
    }
}

extension String {
    var trimmingLeadingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
