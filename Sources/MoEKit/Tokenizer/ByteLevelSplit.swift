/// Which pre-tokenizer regex cuts text into words before a byte-level BPE merges them. Real
/// files differ: GPT-2/OLMoE use GPT-2's pattern, Qwen2/Qwen3(-MoE) their own (digits one by one,
/// case-insensitive contractions, newline runs), Granite GPT-2's after isolating every digit.
/// Each is a hand-written scanner: the split decides the ids, so it must match the reference
/// regex exactly, and the engine takes no regex dependency.
public enum ByteLevelSplit: String, Equatable, Sendable {
    case gpt2
    case qwen2
    case refact

    public func split(_ text: String) -> [String] {
        switch self {
        case .gpt2: ByteLevelPreTokenizer.split(text)
        case .qwen2: Qwen2PreTokenizer.split(text)
        case .refact: Self.isolatingDigits(text).flatMap(ByteLevelPreTokenizer.split)
        }
    }

    /// `tokenizer.ggml.pre` values llama.cpp gives each split (llama-vocab.cpp maps these names to
    /// LLAMA_VOCAB_PRE_TYPE_GPT2/OLMO, _QWEN2 and _REFACT/_STARCODER, which share one regex list).
    static let ggufNames: [String: ByteLevelSplit] = [
        "gpt-2": .gpt2, "olmo": .gpt2, "qwen2": .qwen2, "deepseek-r1-qwen": .qwen2, "refact": .refact, "starcoder": .refact,
    ]

    /// The name llama.cpp's converter writes for this split.
    func ggufName(family: ModelFamily) -> String {
        switch self {
        case .gpt2: family == .olmoe ? "olmo" : "gpt-2"
        case .qwen2: "qwen2"
        case .refact: "refact"
        }
    }

    /// Qwen2's `Split` pattern as its tokenizer.json spells it (Isolated, then a ByteLevel
    /// without regex); recognised only verbatim.
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The split a two-member tokenizer.json `Sequence` spells, or nil for any other pair:
    /// Qwen2's [Split(Regex `qwen2Pattern`, Isolated, not inverted), ByteLevel(no regex)] or
    /// Granite's [Digits(individual_digits), ByteLevel(GPT-2 regex)], neither adding a prefix space.
    static func fromTokenizerJSON(_ pair: [Any]) -> ByteLevelSplit? {
        guard pair.count == 2, let first = pair[0] as? [String: Any], let byteLevel = pair[1] as? [String: Any],
              byteLevel["type"] as? String == "ByteLevel", (byteLevel["add_prefix_space"] as? Bool) != true else { return nil }
        let usesRegex = (byteLevel["use_regex"] as? Bool) ?? true
        switch first["type"] as? String {
        case "Split":
            guard (first["pattern"] as? [String: Any])?["Regex"] as? String == qwen2Pattern,
                  first["behavior"] as? String == "Isolated", (first["invert"] as? Bool) != true, !usesRegex else { return nil }
            return .qwen2
        case "Digits":
            guard first["individual_digits"] as? Bool == true, usesRegex else { return nil }
            return .refact
        default:
            return nil
        }
    }

    /// `\p{N}` (llama.cpp) / `Digits(individual_digits)` (Hugging Face): every number character
    /// is a piece of its own, and the text between stays whole.
    static func isolatingDigits(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard ByteLevelPreTokenizer.classify(scalar) == .number else { current.append(scalar); continue }
            if !current.isEmpty { pieces.append(String(current)); current = String.UnicodeScalarView() }
            pieces.append(String(scalar))
        }
        if !current.isEmpty { pieces.append(String(current)) }
        return pieces
    }
}
