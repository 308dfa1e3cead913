/// DeepSeek-V3's pre-tokenizer (its tokenizer.json; llama.cpp's `deepseek-v3`), three
/// `Split(Isolated)` steps on the pieces each leaves (see `SplitSequence`):
///   1. `\p{N}{1,3}`: numbers in groups of three from the left;
///   2. `[一-龥぀-ゟ゠-ヿ]+`: runs of CJK ideographs, hiragana and katakana;
///   3. `[ASCII punctuation][A-Za-z]+ | [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ | ?[\p{P}\p{S}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+`
///      — cl100k's shape with marks kept in words, punctuation and symbols apart, and one ASCII
///      punctuation character glued to the ASCII word after it ("'s", ".com", "_name").
/// Number pieces match nothing in step 3 and stay whole.
enum DeepSeekV3PreTokenizer {
    /// The patterns as DeepSeek-V3's tokenizer.json spells them (CR and LF literal in the third).
    static let patterns = [
        #"\p{N}{1,3}"#,
        "[\(kanaAndIdeographs)]+",
        ##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\##r\##n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\##r\##n]*|\s*[\##r\##n]+|\s+(?!\S)|\s+"##,
    ]

    static let kanaAndIdeographs = "\u{4E00}-\u{9FA5}\u{3040}-\u{309F}\u{30A0}-\u{30FF}"
    static let cjk = CodePointRanges(bracketBody: kanaAndIdeographs)

    static func split(_ text: String) -> [String] {
        var sequence = SplitSequence(text)
        let scalars = sequence.scalars, categories = sequence.categories, spaces = sequence.spaces
        sequence.isolate { i, end in
            categories[i] == .number ? SplitSequence.run(from: i, to: min(end, i + 3)) { categories[$0] == .number } : nil
        }
        sequence.isolateRuns(optionalSpace: false) { cjk.contains(scalars[$0]) }
        sequence.isolate { i, end in wordMatch(scalars, categories, spaces, at: i, end: end) }
        return sequence.words
    }

    static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) }

    /// The 32 ASCII punctuation and symbol characters of `[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]`.
    static func isASCIIPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && scalar.value > 0x20 && scalar.value < 0x7F && !isASCIILetter(scalar) && !("0"..."9").contains(scalar)
    }

    /// Step 3 at `i`, each alternative tried in order as the regex engine does.
    static func wordMatch(_ scalars: [Unicode.Scalar], _ categories: [SplitSequence.Category], _ spaces: [Bool],
                          at i: Int, end: Int) -> Int? {
        func run(from start: Int, _ test: (Int) -> Bool) -> Int { SplitSequence.run(from: start, to: end, while: test) }
        let isWordPart = { (k: Int) in categories[k] == .letter || categories[k] == .mark }
        let isPunctuation = { (k: Int) in categories[k] == .punctuation || categories[k] == .symbol }
        let hasNext = i + 1 < end
        if isASCIIPunctuation(scalars[i]) && hasNext && isASCIILetter(scalars[i + 1]) {
            return run(from: i + 1) { isASCIILetter(scalars[$0]) }
        }
        // [^\r\n\p{L}\p{P}\p{S}]? then [\p{L}\p{M}]+: a space, digit, mark or control glued to the word after it.
        let mayPrefix = !SplitSequence.isNewline(scalars[i]) && categories[i] != .letter && !isPunctuation(i)
        if mayPrefix && hasNext && isWordPart(i + 1) { return run(from: i + 1, isWordPart) }
        if isWordPart(i) { return run(from: i, isWordPart) }
        if isPunctuation(i) || (scalars[i] == " " && hasNext && isPunctuation(i + 1)) {
            let symbols = run(from: isPunctuation(i) ? i : i + 1, isPunctuation)
            return run(from: symbols) { SplitSequence.isNewline(scalars[$0]) }
        }
        guard spaces[i] else { return nil }
        let spaceEnd = run(from: i) { spaces[$0] }
        if let lastNewline = (i..<spaceEnd).last(where: { SplitSequence.isNewline(scalars[$0]) }) {
            return lastNewline + 1                             // \s*[\r\n]+
        }
        if spaceEnd == end || spaceEnd - i == 1 { return spaceEnd }  // \s+(?!\S) at the piece's end, or \s+
        return spaceEnd - 1                                    // \s+(?!\S): the last space joins the next word
    }
}
