import Foundation
import Testing
@testable import MoEKit

/// The Qwen2 and Granite (refact) byte-level splits, held to the `tokenizers` library's ids
/// (Fixtures/make_pretokenizer_fixtures.py) from both the tokenizer.json and the GGUF keys.
@Suite struct PreTokenizerSplitTests {
    struct Case: Decodable { let text: String; let ids: [Int] }

    static func fixture(_ name: String) -> String { TestSupport.fixture("hf-tokenizer-pretok/" + name) }

    static func expectedIds() throws -> [String: [Case]] {
        try JSONDecoder().decode([String: [Case]].self, from: Data(contentsOf: URL(fileURLWithPath: fixture("expected.json"))))
    }

    @Test("tokenizer.json and GGUF vocabularies encode as the tokenizers library", arguments: [ByteLevelSplit.qwen2, .refact])
    func matchesReference(split: ByteLevelSplit) throws {
        let json = try Tokenizer.load(path: Self.fixture("\(split.rawValue)/tokenizer.json"))
        let gguf = try Tokenizer.load(gguf: GGUFFile(path: Self.fixture("\(split.rawValue).gguf")).metadata)
        #expect(json.style == .byteLevel(split) && gguf.style == .byteLevel(split))
        let cases = try #require(try Self.expectedIds()[split.rawValue])
        #expect(cases.count >= 10)
        for item in cases {
            #expect(json.encode(item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(gguf.encode(item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(gguf.decode(item.ids) == item.text, "\(item.text.debugDescription)")
        }
    }

    @Test("Qwen2's split keeps digits single, contractions in either case, and newline runs")
    func qwen2Pieces() {
        #expect(Qwen2PreTokenizer.split("IT'S x12 .hi\r\n\n  a  !") == ["IT", "'S", " x", "1", "2", " .", "hi", "\r\n\n", " ", " a", " ", " !"])
        #expect(Qwen2PreTokenizer.split("a\n \n b") == ["a", "\n \n", " b"])
        #expect(Qwen2PreTokenizer.split("ok...\n\nnext\t") == ["ok", "...\n\n", "next", "\t"])
    }

    @Test("Granite's split isolates every digit before GPT-2's")
    func refactPieces() {
        #expect(ByteLevelSplit.refact.split("x 123ab's") == ["x", " ", "1", "2", "3", "ab", "'s"])
    }

    @Test("a Qwen2 or Granite tokenizer.json exports GGUF keys naming its split, which load and encode alike", arguments: [ByteLevelSplit.qwen2, .refact])
    func exportRoundTrip(split: ByteLevelSplit) throws {
        let json = try Tokenizer.load(path: Self.fixture("\(split.rawValue)/tokenizer.json"))
        let config = ModelConfig(family: .qwen2MoE, vocabSize: json.vocabularySize, hiddenSize: 4, intermediateSize: 4, numLayers: 1,
                                 numHeads: 1, numKeyValueHeads: 1, numExperts: 4)
        var metadata = GGUFMetadata(file: "export.gguf")
        for (position, pair) in GGUFTokenizerExport.gpt2(json, config: config).enumerated() { metadata.append(pair.key, pair.value, position: position) }
        #expect(try metadata.string("tokenizer.ggml.pre") == split.rawValue)
        let gguf = try Tokenizer.load(gguf: metadata)
        #expect(gguf.style == .byteLevel(split))
        for item in try #require(try Self.expectedIds()[split.rawValue]) { #expect(gguf.encode(item.text) == item.ids) }
    }

    @Test("a GGUF pre-tokenizer moepp does not split is refused in one line naming the key")
    func unknownGGUFPre() throws {
        let file = try GGUFFile(path: Self.fixture("qwen2.gguf"))
        var metadata = GGUFMetadata(file: "qwen2.gguf")
        for (position, key) in file.metadata.keys.enumerated() {
            metadata.append(key, key == "tokenizer.ggml.pre" ? .string("llama-bpe") : file.metadata[key]!, position: position)
        }
        let error = try #require(throws: CheckpointError.self) { try Tokenizer.load(gguf: metadata) }
        let message = "\(error)"
        #expect(message.contains("tokenizer.ggml.pre") && message.contains("llama-bpe") && message.contains("qwen2") && !message.contains("\n"), "\(message)")
    }
}

/// A second, independent reading of the patterns: ICU's regex engine (NSRegularExpression, which
/// knows \p{L}, \p{N}, (?i:) and lookahead) on random strings. Kept out of the product because
/// ICU's `\s` is not White_Space exactly; the pool avoids the characters where they differ.
@Suite struct PreTokenizerRegexCrossCheck {
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    static func regexSplit(_ pattern: String, _ text: String) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern)
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range) }
    }

    @Test("the scanners cut 2000 random strings as ICU's regex engine does")
    func randomStrings() throws {
        let pool = ["a", "Z", "é", "漢", "7", "½", " ", " ", "\t", "\n", "\r", "'", "s", "T", "re", "LL", "VE", ".", "!", "😀", "\u{301}"]
        var generator = SeededRandom(seed: 8)
        for _ in 0..<2000 {
            let text = (0..<Int.random(in: 1...20, using: &generator)).map { _ in pool.randomElement(using: &generator)! }.joined()
            #expect(Qwen2PreTokenizer.split(text) == (try Self.regexSplit(ByteLevelSplit.qwen2Pattern, text)), "\(text.debugDescription)")
            #expect(ByteLevelPreTokenizer.split(text) == (try Self.regexSplit(Self.gpt2Pattern, text)), "\(text.debugDescription)")
        }
    }
}
