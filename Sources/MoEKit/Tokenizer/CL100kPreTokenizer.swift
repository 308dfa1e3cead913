/// GPT-4's cl100k_base pre-tokenizer regex, as Llama 3 ships it (llama.cpp's LLAMA3) and, with
/// single digits, as Qwen2/Qwen3 ship it (`\p{N}` for `\p{N}{1,3}`, llama.cpp's QWEN2):
///   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
/// as a scanner: at each position the first alternative that matches wins, each greedy, as a
/// backtracking regex engine takes them. Every character matches some alternative, so the pieces
/// cover the text.
enum CL100kPreTokenizer {
    typealias Class = ByteLevelPreTokenizer.CharacterClass

    static func isNewline(_ scalar: Unicode.Scalar) -> Bool { scalar == "\r" || scalar == "\n" }

    /// 's 't 're 've 'm 'll 'd in any case (llama.cpp spells it '[sS]|'[tT]|…). Case-insensitive
    /// matching is by Unicode case folding, so the long s "ſ" (U+017F, folds to "s") is an s too.
    static func contractionLength(_ scalars: [Unicode.Scalar], at i: Int) -> Int? {
        guard scalars[i] == "'", i + 1 < scalars.count else { return nil }
        func folded(_ k: Int) -> Character? {
            guard k < scalars.count else { return nil }
            if scalars[k] == "\u{17F}" { return "s" }
            return scalars[k].isASCII ? Character(scalars[k]).lowercased().first : nil
        }
        switch folded(i + 1) {
        case "s", "t", "m", "d": return 2
        case "r", "v": return folded(i + 2) == "e" ? 3 : nil
        case "l": return folded(i + 2) == "l" ? 3 : nil
        default: return nil
        }
    }

    /// `maxDigits`: 3 for cl100k/Llama 3 (`\p{N}{1,3}`), 1 for Qwen2 (`\p{N}`).
    static func split(_ text: String, maxDigits: Int) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let classes = scalars.map(ByteLevelPreTokenizer.classify)
        let count = scalars.count
        func run(from start: Int, while test: (Int) -> Bool) -> Int {
            var end = start
            while end < count && test(end) { end += 1 }
            return end
        }
        var words: [String] = []
        var i = 0
        while i < count {
            let next: Class? = i + 1 < count ? classes[i + 1] : nil
            let end: Int
            if let length = contractionLength(scalars, at: i) {
                end = i + length
            } else if classes[i] == .letter {
                end = run(from: i) { classes[$0] == .letter }
            } else if classes[i] != .number && !isNewline(scalars[i]) && next == .letter {
                // [^\r\n\p{L}\p{N}]? then \p{L}+: one space or symbol glued to the word after it.
                end = run(from: i + 1) { classes[$0] == .letter }
            } else if classes[i] == .number {
                end = min(run(from: i) { classes[$0] == .number }, i + maxDigits)
            } else if classes[i] == .other || (scalars[i] == " " && next == .other) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`: symbols keep one leading space and trailing newlines.
                let symbols = run(from: classes[i] == .other ? i : i + 1) { classes[$0] == .other }
                end = run(from: symbols) { isNewline(scalars[$0]) }
            } else {
                let spaces = run(from: i) { classes[$0] == .space }
                if let lastNewline = (i..<spaces).last(where: { isNewline(scalars[$0]) }) {
                    end = lastNewline + 1                      // \s*[\r\n]+
                } else if spaces == count || spaces - i == 1 {
                    end = spaces                               // \s+(?!\S) at the end, or \s+
                } else {
                    end = spaces - 1                           // \s+(?!\S): the last space joins the next word
                }
            }
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[i..<end])
            words.append(String(word))
            i = end
        }
        return words
    }
}
