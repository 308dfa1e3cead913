/// DeepSeek LLM's pre-tokenizer, shared by DeepSeek-MoE, DeepSeek-V2/V2-Lite and Coder-V2 (their
/// tokenizer.json; llama.cpp's `deepseek-llm`): `Split(Isolated)` steps on the pieces each leaves
/// (see `SplitSequence`), then `Digits(individual_digits)`:
///   1. `[\r\n]`: every CR and LF alone;
///   2. `\s?[A-Za-zµÀ-Ö…]+`: runs of cased letters (a fixed list of ranges, not \p{L}: no CJK,
///      Arabic, Hebrew, Devanagari…), taking one white space before them;
///   3. `\s?[!-/:-~！-／：-～‘-‟　-。]+`: ASCII and full-width punctuation, quotes;
///   4. `\s+$`: white space at the end of a piece (`$` is the piece's end: no piece holds a line
///      feed but "\n" itself after step 1);
///   5. `[一-龥ࠀ-一가-퟿]+`: U+0800…U+9FA5 (not only CJK: also Indic scripts, symbols, U+3000 and
///      U+2028 white space) and Hangul syllables;
///   6. every number character alone (llama.cpp writes `\p{N}+` here; Hugging Face isolates them).
enum DeepSeekLLMPreTokenizer {
    static let letterClass = "A-Za-z\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}\u{2184}\u{2C00}-\u{2C7B}\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}"
    static let punctuationClass = "!-/:-~\u{FF01}-\u{FF0F}\u{FF1A}-\u{FF5E}\u{2018}-\u{201F}\u{3000}-\u{3002}"
    /// Also DeepSeek Coder's.
    static let cjkClass = "\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}"

    /// The `Split` patterns as the tokenizer.json spells them (steps 1–5; step 6 is `Digits`).
    static let patterns = ["[\r\n]", #"\s?["# + letterClass + "]+", #"\s?["# + punctuationClass + "]+", #"\s+$"#, "[" + cjkClass + "]+"]

    static let letters = CodePointRanges(bracketBody: letterClass)
    static let punctuation = CodePointRanges(bracketBody: punctuationClass)
    static let cjk = CodePointRanges(bracketBody: cjkClass)

    static func split(_ text: String) -> [String] {
        var sequence = SplitSequence(text)
        let scalars = sequence.scalars
        sequence.isolateNewlines()
        sequence.isolateRuns(optionalSpace: true) { letters.contains(scalars[$0]) }
        sequence.isolateRuns(optionalSpace: true) { punctuation.contains(scalars[$0]) }
        sequence.isolateTrailingSpaces()
        sequence.isolateRuns(optionalSpace: false) { cjk.contains(scalars[$0]) }
        sequence.isolateDigits()
        return sequence.words
    }
}
