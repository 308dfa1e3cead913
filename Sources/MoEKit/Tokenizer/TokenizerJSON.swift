import Foundation

/// Reading and writing the Hugging Face `tokenizer.json` fields we use:
/// `model` {type "BPE", vocab, merges ("a b" strings or [a, b] pairs), byte_fallback, unk_token},
/// `added_tokens` [{id, content, special}], `pre_tokenizer`/`decoder` (ByteLevel or Metaspace /
/// Replace "▁"), `normalizer` (Prepend "▁" + Replace " "→"▁"), `post_processor` (a bos prefix).
enum TokenizerJSON {
    static func decode(_ json: JSONFields, bosToken: String? = nil, eosToken: String? = nil) throws -> Tokenizer {
        guard let model = json.object["model"] as? [String: Any] else { throw json.fail("model", "missing or not an object") }
        let modelType = (model["type"] as? String) ?? "BPE"
        guard modelType == "BPE" else { throw json.fail("model.type", "only BPE tokenizers are supported, found \"\(modelType)\"") }
        guard let vocabObject = model["vocab"] as? [String: Any] else { throw json.fail("model.vocab", "missing or not an object") }
        var vocabulary: [String: Int] = [:]
        for (token, value) in vocabObject {
            guard let id = value as? NSNumber, id.intValue >= 0 else { throw json.fail("model.vocab", "token \"\(token)\" has no valid id") }
            vocabulary[token] = id.intValue
        }
        var merges: [(String, String)] = []
        for (position, item) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let text = item as? String, let space = text.firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else if let pair = item as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw json.fail("model.merges", "entry \(position) is neither \"a b\" nor [a, b]")
            }
        }
        var added: [Tokenizer.AddedToken] = []
        for item in (json.object["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let id = (item["id"] as? NSNumber)?.intValue, let content = item["content"] as? String else {
                throw json.fail("added_tokens", "entry without id or content")
            }
            added.append(.init(content: content, id: id, special: (item["special"] as? Bool) ?? false))
        }
        let description = "\(json.object["pre_tokenizer"] ?? "")\(json.object["decoder"] ?? "")"
        let style: Tokenizer.Style
        if description.contains("ByteLevel") {
            style = .byteLevel
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
