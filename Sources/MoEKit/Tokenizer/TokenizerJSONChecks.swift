import Foundation

/// What `tokenizer.json` may contain for us to encode exactly as Hugging Face does. Anything else
/// is refused in one line naming the key: a tokenizer that loads but drops characters or ignores
/// a normalisation step computes garbage with exit 0.
enum TokenizerJSONChecks {
    /// Ids above this are refused before any table is sized by them (config.json's `vocab_size`
    /// has the same ceiling).
    static let maximumId = (1 << 24) - 1

    /// A vocabulary or added-token id: a non-negative integer (not 1.5, not true) below `limit`.
    static func id(_ value: Any?, limit: Int) -> Int? {
        // Compared as a Double first: 1e300 or Int64.max must not reach an integer conversion.
        guard let number = value as? NSNumber, number.objCType.pointee != 0x63 else { return nil }
        let real = number.doubleValue
        guard real >= 0, real < Double(limit), real == real.rounded(.towardZero) else { return nil }
        return Int(real)
    }

    /// A JSON value as an error quotes it (true stays true, not 1).
    static func describe(_ value: Any?) -> String {
        guard let value, !isJSONNull(value) else { return value == nil ? "missing" : "null" }
        if let number = value as? NSNumber, number.objCType.pointee == 0x63 { return number.boolValue ? "true" : "false" }
        return "\(value)".quotedForMessage
    }

    static func idRange(_ limit: Int, configLimit: Bool) -> String {
        configLimit ? "0…\(limit - 1) (config.json's vocab_size is \(limit))" : "0…\(limit - 1)"
    }

    static func type(_ value: Any?) -> String? { (value as? [String: Any])?["type"] as? String }

    /// Normalizers we implement: none, or the LLaMA pair Prepend("▁") + Replace(" " → "▁"),
    /// alone or in a Sequence.
    static func checkNormalizer(_ value: Any?, _ json: JSONFields) throws {
        guard let value, !isJSONNull(value) else { return }
        guard let object = value as? [String: Any], let kind = object["type"] as? String else {
            throw json.fail("normalizer", "expected an object with a \"type\"")
        }
        switch kind {
        case "Sequence":
            guard let inner = object["normalizers"] as? [Any] else { throw json.fail("normalizer.normalizers", "expected a list") }
            for item in inner { try checkNormalizer(item, json) }
        case "Prepend" where object["prepend"] as? String == "\u{2581}": return
        case "Replace" where ((object["pattern"] as? [String: Any])?["String"] as? String) == " " && object["content"] as? String == "\u{2581}": return
        default:
            throw json.fail("normalizer", "unsupported normalizer \(kind.quotedForMessage) (moepp implements none, or Prepend \"▁\" + Replace \" \" → \"▁\")")
        }
    }

    /// Pre-tokenizers we implement: GPT-2's ByteLevel (regex split, no prefix space) or a
    /// Metaspace with "▁", alone or as the single member of a Sequence, or the Split/Digits lists
    /// `ByteLevelSplit.fromTokenizerJSON` recognises. Returns the byte-level split.
    @discardableResult
    static func checkPreTokenizer(_ value: Any?, _ json: JSONFields) throws -> ByteLevelSplit {
        guard let value, !isJSONNull(value) else { return .gpt2 }
        guard let object = value as? [String: Any], let kind = object["type"] as? String else {
            throw json.fail("pre_tokenizer", "expected an object with a \"type\"")
        }
        switch kind {
        case "Sequence":
            guard let inner = object["pretokenizers"] as? [Any], !inner.isEmpty else {
                throw json.fail("pre_tokenizer", "unsupported Sequence (moepp implements a single ByteLevel or Metaspace pre-tokenizer, or the Qwen2, Llama 3, Granite and DeepSeek lists before a ByteLevel)")
            }
            if inner.count == 1 { return try checkPreTokenizer(inner[0], json) }
            guard let split = ByteLevelSplit.fromTokenizerJSON(inner) else {
                throw json.fail("pre_tokenizer", "unsupported Sequence (moepp implements a single ByteLevel or Metaspace pre-tokenizer, or the Qwen2, Llama 3, Granite and DeepSeek lists before a ByteLevel, spelled exactly as they ship)")
            }
            return split
        case "ByteLevel":
            if (object["add_prefix_space"] as? Bool) == true { throw json.fail("pre_tokenizer.add_prefix_space", "true is not supported") }
            if (object["use_regex"] as? Bool) == false { throw json.fail("pre_tokenizer.use_regex", "false is not supported") }
        case "Metaspace":
            if let replacement = object["replacement"], replacement as? String != "\u{2581}" {
                throw json.fail("pre_tokenizer.replacement", "only \"▁\" is supported, found \("\(replacement)".quotedForMessage)")
            }
            if let scheme = object["prepend_scheme"], !isJSONNull(scheme),
               (scheme as? String).flatMap(Metaspace.PrependScheme.init(rawValue:)) == nil {
                throw json.fail("pre_tokenizer.prepend_scheme", "expected \"always\", \"first\" or \"never\", found \("\(scheme)".quotedForMessage)")
            }
        default:
            throw json.fail("pre_tokenizer", "unsupported pre-tokenizer \(kind.quotedForMessage) (moepp implements ByteLevel and Metaspace)")
        }
        return .gpt2
    }

    /// BPE model options that change the segmentation and that we do not implement.
    static func checkModelOptions(_ model: [String: Any], _ json: JSONFields) throws {
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[key], !isJSONNull(value), (value as? String) != "" {
                throw json.fail("model.\(key)", "not supported (found \("\(value)".quotedForMessage))")
            }
        }
        if let dropout = model["dropout"], !isJSONNull(dropout), (dropout as? NSNumber)?.doubleValue != 0 {
            throw json.fail("model.dropout", "BPE dropout is not supported (found \("\(dropout)".quotedForMessage))")
        }
    }

    /// Hugging Face refuses a merge whose parts or result are not tokens ("out of vocabulary").
    static func checkMerges(_ merges: [(String, String)], vocabulary: [String: Int], _ json: JSONFields) throws {
        for (position, merge) in merges.enumerated() {
            for token in [merge.0, merge.1, merge.0 + merge.1] where vocabulary[token] == nil {
                throw json.fail("model.merges", "entry \(position) (\(merge.0.quotedForMessage) + \(merge.1.quotedForMessage)) names \(token.quotedForMessage), which is not in the vocabulary")
            }
        }
    }

    /// A byte-level vocabulary must spell every byte UTF-8 text can hold, or prompt characters
    /// vanish in encoding. 0xC0, 0xC1 and 0xF5…0xFF never occur in UTF-8, and real vocabularies
    /// (DeepSeek LLM/V2's) leave them out.
    static func checkByteAlphabet(vocabulary: [String: Int], _ json: JSONFields) throws {
        let missing = (0..<256).filter { byte in
            byte != 0xC0 && byte != 0xC1 && byte < 0xF5 && vocabulary[String(ByteLevelAlphabet.characterForByte[byte])] == nil
        }
        guard let first = missing.first else { return }
        throw json.fail("model.vocab", "a byte-level vocabulary needs all 243 byte symbols UTF-8 text can hold; \(missing.count) missing, first \(String(ByteLevelAlphabet.characterForByte[first]).quotedForMessage) (byte 0x\(String(format: "%02X", first)))")
    }
}
