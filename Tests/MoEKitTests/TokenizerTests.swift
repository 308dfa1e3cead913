import Foundation
import Testing
@testable import MoEKit

@Suite("tokenizer.json BPE: Hugging Face agreement, round trips, streaming")
struct TokenizerTests {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let decoded: String
    }

    func cases(_ name: String) throws -> [Case] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture(name + "/expected.json")))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    @Test("encode and decode agree with Hugging Face tokenizers", arguments: ["hf-tokenizer-bytelevel", "hf-tokenizer-sentencepiece", "hf-tokenizer-metaspace"])
    func agreesWithHuggingFace(name: String) throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture(name + "/tokenizer.json"))
        for item in try cases(name) {
            #expect(tokenizer.encode(item.text) == item.ids, "\(name): \(item.text.debugDescription)")
            #expect(tokenizer.decode(item.ids) == item.decoded, "\(name): \(item.text.debugDescription)")
        }
    }

    @Test("SentencePiece-style: a space before a combining mark is \"▁\", not a <0x20> byte")
    func spaceBeforeCombiningMark() throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-sentencepiece/tokenizer.json"))
        let ids = tokenizer.encode("a \u{301}b")
        #expect(!ids.contains(tokenizer.model.id(of: Array("<0x20>".utf8))!), "\(ids.map(tokenizer.tokenString))")
        #expect(ids.filter { tokenizer.tokenString($0) == "▁" }.count == 2)
    }

    @Test("SentencePiece-style: a \"▁\" token followed by a combining mark decodes to a space")
    func metaspaceBeforeCombiningMarkDecodes() {
        let model = BPEModel(vocabulary: ["a": 0, "▁": 1, "\u{301}": 2, "▁\u{301}": 3], merges: [("▁", "\u{301}")])
        let tokenizer = Tokenizer(style: .sentencePiece(Metaspace(prependScheme: .always, prependOnlyIfMissing: true, split: false)), model: model)
        #expect(tokenizer.encode("a \u{301}") == [1, 0, 3])
        #expect(tokenizer.decode([1, 0, 3]) == "a \u{301}")
    }

    @Test("Metaspace prepend_scheme \"first\": only the text's first section, and never before an existing \"▁\"")
    func metaspacePrependFirst() throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-metaspace/tokenizer.json"))
        #expect(tokenizer.style == .sentencePiece(Metaspace(prependScheme: .first, prependOnlyIfMissing: true, split: false)))
        let bos = try #require(tokenizer.addedTokens.first { $0.content == "<s>" }?.id)
        #expect(tokenizer.encode("<s>Hello") == [bos] + tokenizer.encode("Hello").dropFirst(), "no ▁ after a leading added token")
        #expect(tokenizer.encode(" Hello") == tokenizer.encode("Hello"), "text already starting with ▁ gets none prepended")
    }

    static let hardStrings = [
        "", " ", "a", "emoji 🙂👍🏽🧑‍🚀 flags 🇫🇷", "combining e\u{301} a\u{308}\u{301} Z\u{35C}\u{361}",
        "CJK 漢字かな 한국어", "tabs\tand\nnewlines\r\n", "  many   spaces  ", "'s 're 've 'll 'd 'm 't", "RTL שלום مرحبا",
        "\u{0}\u{1F}\u{7F}", "<|endoftext|> inside text",
    ]

    @Test("byte-level round-trips arbitrary UTF-8 exactly", arguments: hardStrings)
    func byteLevelRoundTrip(text: String) throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-bytelevel/tokenizer.json"))
        #expect(Array(tokenizer.decode(tokenizer.encode(text)).utf8) == Array(text.utf8))
    }

    @Test("SentencePiece-style with byte fallback round-trips arbitrary UTF-8", arguments: hardStrings)
    func sentencePieceRoundTrip(text: String) throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-sentencepiece/tokenizer.json"))
        let ids = tokenizer.encode(text)
        #expect(!ids.contains(tokenizer.unknownTokenId ?? -1), "byte fallback, not <unk>")
        #expect(Array(tokenizer.decode(ids).utf8) == Array(text.utf8))
    }

    @Test("random byte strings: invalid UTF-8 decodes to U+FFFD, valid parts survive")
    func invalidBytes() throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-sentencepiece/tokenizer.json"))
        let byteId = { (byte: UInt8) in tokenizer.model.id(of: Array(String(format: "<0x%02X>", byte).utf8))! }
        // "A", a lone continuation byte, "B", then an unfinished 3-byte sequence.
        let ids = [byteId(0x41), byteId(0x80), byteId(0x42), byteId(0xE2), byteId(0x82)]
        #expect(tokenizer.decode(ids) == "A\u{FFFD}B\u{FFFD}")
    }

    @Test("the streaming decoder never emits half a character")
    func streaming() throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-sentencepiece/tokenizer.json"))
        let text = "a🙂é漢"
        let ids = tokenizer.encode(text)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var pieces: [String] = []
        for id in ids { pieces.append(decoder.push(id)) }
        pieces.append(decoder.finish())
        #expect(pieces.joined() == text)
        #expect(pieces.allSatisfy { !$0.contains("\u{FFFD}") })
        #expect(pieces.filter { !$0.isEmpty }.count >= 4, "emitted as characters complete: \(pieces)")
    }

    @Test("special tokens are matched verbatim and decode to themselves")
    func specialTokens() throws {
        let tokenizer = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-bytelevel/tokenizer.json"))
        let ids = tokenizer.encode("a<|endoftext|>b")
        let special = try #require(tokenizer.addedTokens.first { $0.content == "<|endoftext|>" })
        #expect(ids.contains(special.id))
        #expect(tokenizer.isSpecial(special.id))
        #expect(tokenizer.decode(ids) == "a<|endoftext|>b")
    }

    @Test("GPT-2 pre-tokenizer splits as the reference pattern does")
    func preTokenizer() {
        #expect(ByteLevelPreTokenizer.split("Hello world!!  x") == ["Hello", " world", "!!", " ", " x"])
        // `\s+(?!\S)` leaves the last newline of a run before a word to `\s+`, as the regex does.
        #expect(ByteLevelPreTokenizer.split("it's 42\n\nok") == ["it", "'s", " 42", "\n", "\n", "ok"])
        #expect(ByteLevelPreTokenizer.split("a   ") == ["a", "   "])
    }

    @Test("the fixture writer's tokenizer loads and covers its vocabulary")
    func writtenTokenizer() throws {
        let directory = TestSupport.randomCheckpoint(.moepp)
        let tokenizer = try Tokenizer.load(path: directory + "/tokenizer.json")
        #expect(tokenizer.style == .byteLevel(.gpt2))
        #expect(tokenizer.vocabularySize == RandomCheckpoint.fixtureTokens().count + 1)
        #expect(tokenizer.encode(" the") == [tokenizer.model.id(of: Array("Ġthe".utf8))!])
    }
}
