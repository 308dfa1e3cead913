/// DeepSeek Coder's pre-tokenizer (deepseek-coder-*-base/instruct tokenizer.json; llama.cpp's
/// `deepseek-coder`), DeepSeek LLM's list with Unicode classes for letters and punctuation:
/// `[\r\n]`, `\s?\p{L}+`, `\s?\p{P}+` (punctuation only: symbols such as `+ = $ <` are left
/// between pieces), DeepSeek LLM's `[一-龥ࠀ-一가-퟿]+`, then every number character alone.
enum DeepSeekCoderPreTokenizer {
    static let patterns = ["[\r\n]", #"\s?\p{L}+"#, #"\s?\p{P}+"#, "[" + DeepSeekLLMPreTokenizer.cjkClass + "]+"]

    static func split(_ text: String) -> [String] {
        var sequence = SplitSequence(text)
        let scalars = sequence.scalars, categories = sequence.categories
        sequence.isolateNewlines()
        sequence.isolateRuns(optionalSpace: true) { categories[$0] == .letter }
        sequence.isolateRuns(optionalSpace: true) { categories[$0] == .punctuation }
        sequence.isolateRuns(optionalSpace: false) { DeepSeekLLMPreTokenizer.cjk.contains(scalars[$0]) }
        sequence.isolateDigits()
        return sequence.words
    }
}
