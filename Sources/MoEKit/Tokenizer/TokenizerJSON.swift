import Foundation

/// Reading and writing the Hugging Face `tokenizer.json` fields we use:
/// `model` {type "BPE", vocab, merges ("a b" strings or [a, b] pairs), byte_fallback, unk_token},
/// `added_tokens` [{id, content, special}], `pre_tokenizer`/`decoder` (ByteLevel — after the Qwen2,
/// Llama 3 or DeepSeek Splits or Granite's Digits — or Metaspace / Replace "▁"), `normalizer` (Prepend "▁" + Replace " "→"▁"), `post_processor` (a bos prefix).
enum TokenizerJSON {
    /// `vocabularyLimit`: config.json's `vocab_size` when the engine loads a model with it; ids at
    /// or above it are refused before anything is sized by them.
    static func decode(_ json: JSONFields, bosToken: String? = nil, eosToken: String? = nil, vocabularyLimit: Int? = nil) throws -> Tokenizer {
        guard let model = json.object["model"] as? [String: Any] else { throw json.fail("model", "missing or not an object") }
        let modelType = (model["type"] as? String) ?? "BPE"
        guard modelType == "BPE" else { throw json.fail("model.type", "only BPE tokenizers are supported, found \(modelType.quotedForMessage)") }
        try TokenizerJSONChecks.checkModelOptions(model, json)
        try TokenizerJSONChecks.checkNormalizer(json.object["normalizer"], json)
        let split = try TokenizerJSONChecks.checkPreTokenizer(json.object["pre_tokenizer"], json)
        guard let vocabObject = model["vocab"] as? [String: Any] else { throw json.fail("model.vocab", "missing or not an object") }
        let limit = min(vocabularyLimit ?? Int.max, TokenizerJSONChecks.maximumId + 1)
        let range = TokenizerJSONChecks.idRange(limit, configLimit: vocabularyLimit.map { $0 <= TokenizerJSONChecks.maximumId + 1 } ?? false)
        var vocabulary: [String: Int] = [:]
        for (token, value) in vocabObject {
            guard let id = TokenizerJSONChecks.id(value, limit: limit) else {
                throw json.fail("model.vocab", "token \(token.quotedForMessage) has id \(TokenizerJSONChecks.describe(value)); expected an integer in \(range)")
            }
            vocabulary[token] = id
        }
        var merges: [(String, String)] = []
        if let list = model["merges"], !isJSONNull(list), !(list is [Any]) { throw json.fail("model.merges", "expected a list") }
        for (position, item) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let text = item as? String, let space = text.firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else if let pair = item as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw json.fail("model.merges", "entry \(position) is neither \"a b\" nor [a, b]")
            }
        }
        try TokenizerJSONChecks.checkMerges(merges, vocabulary: vocabulary, json)
        let added = try addedTokens(json, limit: limit, range: range)
        let description = "\(json.object["pre_tokenizer"] ?? "")\(json.object["decoder"] ?? "")"
        let style: Tokenizer.Style
        if description.contains("ByteLevel") {
            style = .byteLevel(split)
            try TokenizerJSONChecks.checkByteAlphabet(vocabulary: vocabulary, json)
        } else {
            style = .sentencePiece(metaspace(normalizer: json.object["normalizer"], preTokenizer: json.object["pre_tokenizer"]))
        }
        return Tokenizer(style: style, model: BPEModel(vocabulary: vocabulary, merges: merges),
                         byteFallback: (model["byte_fallback"] as? Bool) ?? false,
                         unknownToken: model["unk_token"] as? String, addedTokens: added,
                         prefixToken: prefixToken(json.object["post_processor"]),
                         ignoreMerges: (model["ignore_merges"] as? Bool) ?? false,
                         bosToken: bosToken, eosToken: eosToken, suffixToken: nil, processor: nil)
    }

    /// `added_tokens`: absent, null, or a list of {id, content, special?} objects.
    static func addedTokens(_ json: JSONFields, limit: Int, range: String) throws -> [Tokenizer.AddedToken] {
        guard json.has("added_tokens") else { return [] }
        guard let list = json.object["added_tokens"] as? [Any] else { throw json.fail("added_tokens", "expected a list of {id, content} objects") }
        return try list.enumerated().map { position, entry in
            guard let item = entry as? [String: Any] else { throw json.fail("added_tokens", "entry \(position) is not an object") }
            guard let id = TokenizerJSONChecks.id(item["id"], limit: limit) else {
                throw json.fail("added_tokens", "entry \(position): id \(TokenizerJSONChecks.describe(item["id"])); expected an integer in \(range)")
            }
            guard let content = item["content"] as? String, !content.isEmpty else {
                throw json.fail("added_tokens", "entry \(position): \"content\" must be a non-empty string")
            }
            let special = item["special"]
            if let special, !isJSONNull(special), (special as? NSNumber)?.objCType.pointee != 0x63 {
                throw json.fail("added_tokens", "entry \(position): \"special\" must be true or false")
            }
            return .init(content: content, id: id, special: (special as? Bool) ?? false)
        }
    }

    /// The SentencePiece spelling: a `Metaspace` pre-tokenizer (possibly inside a Sequence), or the
    /// older `Prepend("▁")` + `Replace(" ", "▁")` normalizer pair, which prepends unconditionally.
    static func metaspace(normalizer: Any?, preTokenizer: Any?) -> Metaspace {
        func find(_ value: Any?) -> [String: Any]? {
            guard let object = value as? [String: Any] else { return nil }
            if object["type"] as? String == "Metaspace" { return object }
            return (object["pretokenizers"] as? [Any])?.lazy.compactMap(find).first
        }
        if let meta = find(preTokenizer) {
            let legacy: Metaspace.PrependScheme = (meta["add_prefix_space"] as? Bool) == false ? .never : .always
            let scheme = (meta["prepend_scheme"] as? String).flatMap(Metaspace.PrependScheme.init(rawValue:)) ?? legacy
            return Metaspace(prependScheme: scheme, prependOnlyIfMissing: true, split: (meta["split"] as? Bool) ?? false)
        }
        let prepends = "\(normalizer ?? "")".contains("Prepend")
        return Metaspace(prependScheme: prepends ? .always : .never, prependOnlyIfMissing: false, split: false)
    }

    /// The special token a TemplateProcessing post-processor puts before `$A`, e.g. LLaMA's "<s>".
    static func prefixToken(_ processor: Any?) -> String? {
        guard let processor = processor as? [String: Any] else { return nil }
        if processor["type"] as? String == "Sequence", let inner = processor["processors"] as? [Any] {
            return inner.lazy.compactMap(prefixToken).first
        }
        guard let single = processor["single"] as? [[String: Any]], let first = single.first,
              let special = first["SpecialToken"] as? [String: Any] else { return nil }
        return special["id"] as? String
    }

    /// A byte-level BPE `tokenizer.json` (what our tokenizer trainer and test fixtures write).
    static func encodeByteLevel(tokens: [String], merges: [(String, String)], specialTokens: [String]) -> String {
        var out = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
        let firstSpecial = tokens.count
        out += specialTokens.enumerated().map { offset, content in
            "{\"id\":\(firstSpecial + offset),\"content\":\(jsonString(content)),\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}"
        }.joined(separator: ",")
        out += "],\"normalizer\":null,"
        out += "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
        out += "\"post_processor\":null,"
        out += "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
        out += "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":false,\"vocab\":{"
        out += tokens.enumerated().map { "\(jsonString($1)):\($0)" }.joined(separator: ",")
        out += "},\"merges\":["
        out += merges.map { "[\(jsonString($0.0)),\(jsonString($0.1))]" }.joined(separator: ",")
        out += "]}}\n"
        return out
    }
}

extension Tokenizer {
    /// Writes a byte-level BPE tokenizer: `tokens` (ids 0…) then `specialTokens` as added tokens.
    public static func writeByteLevel(tokens: [String], merges: [(String, String)], specialTokens: [String], to path: String) throws {
        let text = TokenizerJSON.encodeByteLevel(tokens: tokens, merges: merges, specialTokens: specialTokens)
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
