import Foundation
import Testing
@testable import MoEKit

/// The byte-level splits (Qwen2, Granite's refact, Llama 3, DeepSeek LLM / V3 / Coder), held to the
/// `tokenizers` library's ids (Fixtures/make_pretokenizer_fixtures.py) from both the tokenizer.json
/// and the GGUF keys, and to the library's own pieces.
@Suite struct PreTokenizerSplitTests {
    struct Case: Decodable { let text: String; let ids: [Int] }
    struct Splits: Decodable { let texts: [String]; let splits: [String: [[String]]] }

    static let fixtureSplits = ByteLevelSplit.allCases.filter { $0 != .gpt2 }

    static func fixture(_ name: String) -> String { TestSupport.fixture("hf-tokenizer-pretok/" + name) }

    /// What the model is fed, as the library's `encode` (special tokens on) gives it: the prefix
    /// token (Llama 3's bos, from tokenizer.json's TemplateProcessing or the GGUF default) first.
    static func modelInput(_ tokenizer: Tokenizer, _ text: String) -> [Int] {
        (tokenizer.prefixTokenId.map { [$0] } ?? []) + tokenizer.encode(text)
    }

    static func expectedIds() throws -> [String: [Case]] {
        try JSONDecoder().decode([String: [Case]].self, from: Data(contentsOf: URL(fileURLWithPath: fixture("expected.json"))))
    }

    @Test("tokenizer.json and GGUF vocabularies encode as the tokenizers library", arguments: fixtureSplits)
    func matchesReference(split: ByteLevelSplit) throws {
        let json = try Tokenizer.load(path: Self.fixture("\(split.rawValue)/tokenizer.json"))
        let gguf = try Tokenizer.load(gguf: GGUFFile(path: Self.fixture("\(split.rawValue).gguf")).metadata)
        #expect(json.style == .byteLevel(split) && gguf.style == .byteLevel(split))
        // Only the Llama 3 fixture has a word its merges do not build (" ignoremerges"), and only
        // its tokenizer.json sets ignore_merges; the GGUF has no key for it, llama.cpp assumes it.
        #expect(json.ignoreMerges == (split == .llama3) && gguf.ignoreMerges == (split == .llama3))
        let cases = try #require(try Self.expectedIds()[split.rawValue])
        #expect(cases.count >= 130)
        for item in cases {
            #expect(Self.modelInput(json, item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(Self.modelInput(gguf, item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(gguf.decode(gguf.encode(item.text)) == item.text, "\(item.text.debugDescription)")
        }
    }

    @Test("every split cuts 200 random strings into the tokenizers library's pieces")
    func matchesReferencePieces() throws {
        let reference = try JSONDecoder().decode(Splits.self, from: Data(contentsOf: URL(fileURLWithPath: Self.fixture("splits.json"))))
        #expect(reference.texts.count == 200)
        for split in ByteLevelSplit.allCases {
            let pieces = try #require(reference.splits[split.rawValue], "\(split)")
            for (text, expected) in zip(reference.texts, pieces) {
                #expect(split.split(text) == expected, "\(split) \(text.debugDescription)")
            }
        }
    }

    @Test("cl100k's split: digits one by one (Qwen2) or by three (Llama 3), contractions in any case, newline runs")
    func cl100kPieces() {
        #expect(ByteLevelSplit.qwen2.split("IT'S x12 .hi\r\n\n  a  !") == ["IT", "'S", " x", "1", "2", " .", "hi", "\r\n\n", " ", " a", " ", " !"])
        #expect(ByteLevelSplit.qwen2.split("a\n \n b") == ["a", "\n \n", " b"])
        #expect(ByteLevelSplit.qwen2.split("ok...\n\nnext\t") == ["ok", "...\n\n", "next", "\t"])
        #expect(ByteLevelSplit.llama3.split("IT'S x12345 'ſ .hi\r\n\n  a  !") == ["IT", "'S", " x", "123", "45", " '", "ſ", " .", "hi", "\r\n\n", " ", " a", " ", " !"])
        #expect(ByteLevelSplit.llama3.split("it'ſſ x'SS") == ["it", "'ſ", "ſ", " x", "'S", "S"])   // the long s case-folds to s
    }

    @Test("DeepSeek's splits: each step cuts the pieces the last one left")
    func deepSeekPieces() {
        #expect(ByteLevelSplit.deepseekV3.split("x=12345;'s 'S e\u{301} 漢字カナ a  \n b")
                == ["x", "=", "123", "45", ";'", "s", " '", "S", " e\u{301}", " ", "漢字カナ", " a", "  \n", " b"])
        #expect(ByteLevelSplit.deepseekLLM.split("Hello, 世界 12 Ω K!! x  ")
                == ["Hello", ",", " ", "世界", " ", "1", "2", " Ω", " K", "!!", " x", "  "])
        #expect(ByteLevelSplit.deepseekCoder.split("x+=12; 漢字 a_b Ω") == ["x", "+=", "1", "2", ";", " ", "漢字", " a", "_", "b", " Ω"])
    }

    @Test("Granite's split isolates every digit before GPT-2's")
    func refactPieces() {
        #expect(ByteLevelSplit.refact.split("x 123ab's") == ["x", " ", "1", "2", "3", "ab", "'s"])
    }

    @Test("a tokenizer.json with one of these splits exports GGUF keys naming it, which load and encode alike", arguments: fixtureSplits)
    func exportRoundTrip(split: ByteLevelSplit) throws {
        let json = try Tokenizer.load(path: Self.fixture("\(split.rawValue)/tokenizer.json"))
        let config = ModelConfig(family: .qwen2MoE, vocabSize: json.vocabularySize, hiddenSize: 4, intermediateSize: 4, numLayers: 1,
                                 numHeads: 1, numKeyValueHeads: 1, numExperts: 4)
        var metadata = GGUFMetadata(file: "export.gguf")
        for (position, pair) in GGUFTokenizerExport.gpt2(json, config: config).enumerated() { metadata.append(pair.key, pair.value, position: position) }
        #expect(try metadata.string("tokenizer.ggml.pre") == split.ggufName(family: .qwen2MoE))
        let gguf = try Tokenizer.load(gguf: metadata)
        #expect(gguf.style == .byteLevel(split))
        for item in try #require(try Self.expectedIds()[split.rawValue]) { #expect(Self.modelInput(gguf, item.text) == item.ids) }
    }

    @Test("a Llama 3 GGUF starts with bos unless tokenizer.ggml.add_bos_token says false")
    func llama3BosDefault() throws {
        let file = try GGUFFile(path: Self.fixture("llama3.gguf"))
        #expect(!file.metadata.has("tokenizer.ggml.add_bos_token"))
        var metadata = GGUFMetadata(file: "llama3.gguf")
        for (position, key) in file.metadata.keys.enumerated() { metadata.append(key, file.metadata[key]!, position: position) }
        metadata.append("tokenizer.ggml.add_bos_token", .bool(false), position: file.metadata.keys.count)
        #expect(try Tokenizer.load(gguf: file.metadata).prefixTokenId == (try file.metadata.int("tokenizer.ggml.bos_token_id")))
        #expect(try Tokenizer.load(gguf: metadata).prefixTokenId == nil)
    }

    @Test("a GGUF pre-tokenizer moepp does not split is refused in one line naming the key")
    func unknownGGUFPre() throws {
        let file = try GGUFFile(path: Self.fixture("qwen2.gguf"))
        var metadata = GGUFMetadata(file: "qwen2.gguf")
        for (position, key) in file.metadata.keys.enumerated() {
            metadata.append(key, key == "tokenizer.ggml.pre" ? .string("command-r") : file.metadata[key]!, position: position)
        }
        let error = try #require(throws: CheckpointError.self) { try Tokenizer.load(gguf: metadata) }
        let message = "\(error)"
        #expect(message.contains("tokenizer.ggml.pre") && message.contains("command-r") && message.contains("deepseek-v3") && !message.contains("\n"), "\(message)")
    }
}

/// A second, independent reading of the patterns: ICU's regex engine (NSRegularExpression, which
/// knows \p{L}, \p{N}, \p{P}, \p{S}, \p{M}, (?i:) and lookahead) on random strings, each DeepSeek
/// step applied to the pieces the last one left. Kept out of the product because ICU's `\s` is not
/// White_Space exactly (no U+000B, U+0085); the pool avoids the characters where they differ.
@Suite struct PreTokenizerRegexCrossCheck {
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Every pattern compiled once (DeepSeek LLM's letter list alone is a hundred ranges).
    static let compiled: [String: NSRegularExpression] = {
        let patterns = [gpt2Pattern, #"\p{N}"#] + ByteLevelSplit.tokenizerJSONSpellings.flatMap { spelling in
            spelling.steps.compactMap { step -> String? in if case .split(let pattern) = step { pattern } else { nil } }
        }
        return Dictionary(patterns.map { ($0, try! NSRegularExpression(pattern: $0)) }, uniquingKeysWith: { first, _ in first })
    }()

    /// `Split(pattern, Isolated)` on each piece: the matches and the text between them.
    static func isolate(_ pattern: String, _ pieces: [String]) throws -> [String] {
        let regex = try #require(compiled[pattern])
        return pieces.flatMap { piece -> [String] in
            let ns = piece as NSString
            var result: [String] = []
            var unmatched = 0
            for match in regex.matches(in: piece, range: NSRange(location: 0, length: ns.length)) where match.range.length > 0 {
                if match.range.location > unmatched { result.append(ns.substring(with: NSRange(location: unmatched, length: match.range.location - unmatched))) }
                result.append(ns.substring(with: match.range))
                unmatched = match.range.location + match.range.length
            }
            if unmatched < ns.length { result.append(ns.substring(from: unmatched)) }
            return result
        }
    }

    /// Each split as its tokenizer.json spells it, `Digits(individual_digits)` as `\p{N}`.
    static func regexSplit(_ split: ByteLevelSplit, _ text: String) throws -> [String] {
        switch split {
        case .gpt2: return try isolate(gpt2Pattern, [text])
        case .refact: return try isolate(gpt2Pattern, try isolate(#"\p{N}"#, [text]))
        default:
            let spelling = try #require(ByteLevelSplit.tokenizerJSONSpellings.first { $0.split == split })
            return try spelling.steps.reduce([text]) { pieces, step in
                switch step {
                case .split(let pattern): try isolate(pattern, pieces)
                case .digits: try isolate(#"\p{N}"#, pieces)
                }
            }
        }
    }

    @Test("the splits cut 2000 random strings as ICU's regex engine does", arguments: ByteLevelSplit.allCases)
    func randomStrings(split: ByteLevelSplit) throws {
        let pool = ["a", "Z", "é", "漢", "7", "½", " ", " ", "\t", "\n", "\r", "'", "s", "T", "re", "LL", "VE", ".", "!", "😀", "\u{301}",
                    "ſ", "\u{212A}", "Ω", "カ", "ー", "한", "Ａ", "！", "、", "\u{3000}", "\u{2028}", "_", "$", "+", "(", "’", "\u{200D}", "١", "ß"]
        var generator = SeededRandom(seed: 8)
        for _ in 0..<2000 {
            let text = (0..<Int.random(in: 1...20, using: &generator)).map { _ in pool.randomElement(using: &generator)! }.joined()
            #expect(split.split(text) == (try Self.regexSplit(split, text)), "\(split) \(text.debugDescription)")
        }
    }
}
