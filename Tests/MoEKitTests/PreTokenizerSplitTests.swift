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

    @Test("the GGUF export names the split as llama.cpp does")
    func exportName() {
        #expect(ByteLevelSplit.qwen2.ggufName(family: .olmoe) == "qwen2")
        #expect(ByteLevelSplit.refact.ggufName(family: .olmoe) == "refact")
        for (name, split) in ByteLevelSplit.ggufNames where name == split.ggufName(family: .olmoe) || name == "gpt-2" {
            #expect(ByteLevelSplit.ggufNames[split.ggufName(family: .olmoe)] == split)
        }
    }
}
