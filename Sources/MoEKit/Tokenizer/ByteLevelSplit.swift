/// Which pre-tokenizer cuts text into words before a byte-level BPE merges them. Real files
/// differ: GPT-2/OLMoE use GPT-2's pattern, Llama 3 GPT-4's cl100k pattern, Qwen2/Qwen3(-MoE) that
/// pattern with single digits, Granite GPT-2's after isolating every digit, DeepSeek lists of
/// several regexes. Each is hand-written: the split decides the ids, so it must match the
/// reference regexes exactly, and the engine takes no regex dependency.
public enum ByteLevelSplit: String, Equatable, Sendable, CaseIterable {
    case gpt2
    case qwen2
    case refact
    case llama3
    case deepseekLLM = "deepseek-llm"
    case deepseekV3 = "deepseek-v3"
    case deepseekCoder = "deepseek-coder"

    public func split(_ text: String) -> [String] {
        switch self {
        case .gpt2: ByteLevelPreTokenizer.split(text)
        case .qwen2: CL100kPreTokenizer.split(text, maxDigits: 1)
        case .llama3: CL100kPreTokenizer.split(text, maxDigits: 3)
        case .refact: Self.isolatingDigits(text).flatMap(ByteLevelPreTokenizer.split)
        case .deepseekLLM: DeepSeekLLMPreTokenizer.split(text)
        case .deepseekV3: DeepSeekV3PreTokenizer.split(text)
        case .deepseekCoder: DeepSeekCoderPreTokenizer.split(text)
        }
    }

    /// `tokenizer.ggml.pre` values llama.cpp gives each split (llama-vocab.cpp maps these names to
    /// LLAMA_VOCAB_PRE_TYPE_GPT2/OLMO, _QWEN2, _REFACT/_STARCODER, _LLAMA3, _DEEPSEEK_LLM,
    /// _DEEPSEEK3_LLM and _DEEPSEEK_CODER).
    static let ggufNames: [String: ByteLevelSplit] = [
        "gpt-2": .gpt2, "olmo": .gpt2, "qwen2": .qwen2, "deepseek-r1-qwen": .qwen2, "refact": .refact, "starcoder": .refact,
        "llama3": .llama3, "llama-v3": .llama3, "llama-bpe": .llama3,
        "deepseek-llm": .deepseekLLM, "deepseek-v3": .deepseekV3, "deepseek-coder": .deepseekCoder,
    ]

    /// The name llama.cpp's converter writes for this split.
    func ggufName(family: ModelFamily) -> String {
        switch self {
        case .gpt2: family == .olmoe ? "olmo" : "gpt-2"
        case .llama3: "llama-bpe"
        case .qwen2, .refact, .deepseekLLM, .deepseekV3, .deepseekCoder: rawValue
        }
    }

    /// What llama.cpp assumes for a GGUF of this split, where no key says: a Llama 3 vocabulary
    /// looks whole words up before merging (its tokenizer.json's `ignore_merges`) and starts with
    /// the bos token unless `tokenizer.ggml.add_bos_token` says otherwise.
    var ggufIgnoresMerges: Bool { self == .llama3 }
    var ggufAddsBosByDefault: Bool { self == .llama3 }

    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// One member of a tokenizer.json `Sequence` before its final ByteLevel: `Split(Regex, Isolated,
    /// not inverted)` or `Digits(individual_digits)`.
    enum Step: Equatable { case split(String), digits }

    /// How each split is spelled in the tokenizer.json files that ship it, and whether the final
    /// ByteLevel runs GPT-2's regex too (`use_regex`). Recognised only verbatim.
    static let tokenizerJSONSpellings: [(split: ByteLevelSplit, steps: [Step], byteLevelRegex: Bool)] = [
        (.qwen2, [.split(qwen2Pattern)], false),
        (.llama3, [.split(llama3Pattern)], false),
        (.refact, [.digits], true),
        (.deepseekV3, DeepSeekV3PreTokenizer.patterns.map(Step.split), false),
        (.deepseekLLM, DeepSeekLLMPreTokenizer.patterns.map(Step.split) + [.digits], false),
        (.deepseekCoder, DeepSeekCoderPreTokenizer.patterns.map(Step.split) + [.digits], false),
    ]

    /// The split a tokenizer.json `Sequence` of two or more members spells, or nil for any other
    /// list: steps as `tokenizerJSONSpellings`, then a ByteLevel adding no prefix space.
    static func fromTokenizerJSON(_ list: [Any]) -> ByteLevelSplit? {
        guard list.count >= 2, let byteLevel = list.last as? [String: Any], byteLevel["type"] as? String == "ByteLevel",
              (byteLevel["add_prefix_space"] as? Bool) != true else { return nil }
        let usesRegex = (byteLevel["use_regex"] as? Bool) ?? true
        var steps: [Step] = []
        for item in list.dropLast() {
            guard let member = item as? [String: Any] else { return nil }
            switch member["type"] as? String {
            case "Split":
                guard let pattern = (member["pattern"] as? [String: Any])?["Regex"] as? String,
                      member["behavior"] as? String == "Isolated", (member["invert"] as? Bool) != true else { return nil }
                steps.append(.split(pattern))
            case "Digits":
                guard member["individual_digits"] as? Bool == true else { return nil }
                steps.append(.digits)
            default:
                return nil
            }
        }
        return tokenizerJSONSpellings.first { $0.steps == steps && $0.byteLevelRegex == usesRegex }?.split
    }

    /// `\p{N}` (llama.cpp) / `Digits(individual_digits)` (Hugging Face): every number character
    /// is a piece of its own, and the text between stays whole.
    static func isolatingDigits(_ text: String) -> [String] {
        var sequence = SplitSequence(text)
        sequence.isolateDigits()
        return sequence.words
    }
}
