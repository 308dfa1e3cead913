/// Qwen2's pre-tokenizer regex (its tokenizer.json `Split`, llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN2)
///   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
/// as a scanner: at each position the first alternative that matches wins, each greedy, as a
/// backtracking regex engine takes them. Every character matches some alternative, so the pieces
/// cover the text.
enum Qwen2PreTokenizer {
    typealias Class = ByteLevelPreTokenizer.CharacterClass

    static func isNewline(_ scalar: Unicode.Scalar) -> Bool { scalar == "\r" || scalar == "\n" }

    /// 's 't 're 've 'm 'll 'd, either case (llama.cpp spells it '[sS]|'[tT]|…).
    static func contractionLength(_ scalars: [Unicode.Scalar], at i: Int) -> Int? {
        guard scalars[i] == "'", i + 1 < scalars.count else { return nil }
        func lower(_ k: Int) -> Character? {
            k < scalars.count && scalars[k].isASCII ? Character(scalars[k]).lowercased().first : nil
        }
        switch lower(i + 1) {
        case "s", "t", "m", "d": return 2
        case "r", "v": return lower(i + 2) == "e" ? 3 : nil
        case "l": return lower(i + 2) == "l" ? 3 : nil
        default: return nil
        }
    }

    static func split(_ text: String) -> [String] {
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
                end = i + 1
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
