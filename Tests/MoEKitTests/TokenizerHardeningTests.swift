import Foundation
import Testing
@testable import MoEKit

/// Issue 11, items 1 and 7: tokenizer.json contents that used to crash (a huge id sized a table),
/// or load and silently encode differently from Hugging Face, are refused in one line.
@Suite("Bad input: tokenizer.json ids, pipeline pieces, merges, added tokens")
struct TokenizerHardeningTests {
    /// The byte-level fixture as a mutable JSON object.
    static func fixture() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("hf-tokenizer-bytelevel/tokenizer.json")))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func write(_ object: [String: Any], raw: String? = nil) throws -> String {
        let path = TestSupport.temporaryDirectory("tok") + "/tokenizer.json"
        let data = try raw.map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: object)
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Loads `object` (or `raw` text) and returns the one-line error, or nil when it loads.
    static func error(_ object: [String: Any], raw: String? = nil) throws -> String? {
        do {
            _ = try Tokenizer.load(path: write(object, raw: raw))
            return nil
        } catch let error as CheckpointError {
            return error.description
        }
    }

    static func mutateModel(_ change: (inout [String: Any]) -> Void) throws -> [String: Any] {
        var json = try fixture()
        var model = json["model"] as! [String: Any]
        change(&model)
        json["model"] = model
        return json
    }

    @Test("an id of 2^31, 10^9, Int64.max or 1e300 is refused at once, before any table is sized by it",
          arguments: ["2147483648", "1000000000", "9223372036854775807", "1e300", "16777216"])
    func hugeIds(id: String) throws {
        // Raw text so that the number reaches the parser exactly as written.
        var text = String(decoding: try JSONSerialization.data(withJSONObject: try Self.fixture()), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"vocab\":{", with: "\"vocab\":{\"zzhuge\":\(id),")
        let start = Date()
        let message = try #require(try Self.error([:], raw: text))
        #expect(message.contains("key 'model.vocab'") && message.contains("zzhuge") && message.contains("0…16777215"), "\(message)")
        #expect(!message.contains("\n"))
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test("ids that are not non-negative integers are refused", arguments: ["1.5", "true", "-1", "\"7\"", "null"])
    func nonIntegerIds(id: String) throws {
        var text = String(decoding: try JSONSerialization.data(withJSONObject: try Self.fixture()), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"vocab\":{", with: "\"vocab\":{\"zzodd\":\(id),")
        let message = try #require(try Self.error([:], raw: text))
        #expect(message.contains("key 'model.vocab'") && message.contains("zzodd"), "\(message)")
    }

    @Test("with a model, ids at or beyond config.json's vocab_size are refused naming it (CLI, one line)")
    func idsBeyondConfigVocabulary() throws {
        let directory = TestSupport.randomCheckpoint(.mixtral, seed: 21)
        let path = directory + "/tokenizer.json"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"vocab\":{", with: "\"vocab\":{\"zzbig\":100000,")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(["generate", "--model", directory, "--max-tokens", "2", "hi"])
        #expect(result.status == 1 && result.stderr.contains("config.json's vocab_size is 273"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test("a byte-level vocabulary missing a byte symbol is refused (it silently dropped prompt characters)")
    func missingByteSymbol() throws {
        let json = try Self.mutateModel { model in
            var vocab = model["vocab"] as! [String: Any]
            vocab["Ā"] = nil // byte 0x00
            model["vocab"] = vocab
        }
        let message = try #require(try Self.error(json))
        #expect(message.contains("all 243 byte symbols") && message.contains("0x00"), "\(message)")
    }

    @Test("a byte-level vocabulary without the bytes UTF-8 never holds (0xC0, 0xC1, 0xF5…0xFF) loads, as DeepSeek LLM's does")
    func bytesUTF8NeverHolds() throws {
        let json = try Self.mutateModel { model in
            var vocab = model["vocab"] as! [String: Any]
            for byte in [0xC0, 0xC1] + Array(0xF5...0xFF) { vocab[String(ByteLevelAlphabet.characterForByte[byte])] = nil }
            model["vocab"] = vocab
        }
        #expect(try Self.error(json) == nil)
    }

    @Test("normalizers and pre-tokenizers moepp does not implement are refused by name")
    func unsupportedPipeline() throws {
        let cases: [(String, Any, String)] = [
            ("normalizer", ["type": "NFC"], "unsupported normalizer 'NFC'"),
            ("normalizer", ["type": "Sequence", "normalizers": [["type": "Lowercase"]]], "unsupported normalizer 'Lowercase'"),
            ("normalizer", ["type": "Replace", "pattern": ["String": "a"], "content": "b"], "unsupported normalizer 'Replace'"),
            ("normalizer", "NFC", "expected an object"),
            ("pre_tokenizer", ["type": "Whitespace"], "unsupported pre-tokenizer 'Whitespace'"),
            ("pre_tokenizer", ["type": "Sequence", "pretokenizers": [["type": "Split"], ["type": "ByteLevel"]]], "unsupported Sequence"),
            ("pre_tokenizer", ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": String(ByteLevelSplit.qwen2Pattern.dropLast(4))], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "use_regex": false]]], "unsupported Sequence"),
            ("pre_tokenizer", ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": ByteLevelSplit.qwen2Pattern], "behavior": "Removed", "invert": false],
                ["type": "ByteLevel", "use_regex": false]]], "unsupported Sequence"),
            ("pre_tokenizer", ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": false], ["type": "ByteLevel"]]], "unsupported Sequence"),
            ("pre_tokenizer", ["type": "ByteLevel", "add_prefix_space": true], "pre_tokenizer.add_prefix_space"),
            ("pre_tokenizer", ["type": "Metaspace", "replacement": "_"], "pre_tokenizer.replacement"),
            ("pre_tokenizer", ["type": "Metaspace", "prepend_scheme": "sometimes"], "pre_tokenizer.prepend_scheme"),
        ]
        for (key, value, expected) in cases {
            var json = try Self.fixture()
            json[key] = value
            let message = try #require(try Self.error(json), "\(key) \(value) loaded")
            #expect(message.contains(expected) && !message.contains("\n"), "\(message)")
        }
    }

    @Test("merges naming a token outside the vocabulary are refused, as Hugging Face does")
    func unknownMergeTokens() throws {
        for merge in [["zq", "t"], ["t", "zq"], ["Ā", "Ā"]] {
            let json = try Self.mutateModel { model in model["merges"] = (model["merges"] as! [Any]) + [merge] }
            let message = try #require(try Self.error(json), "\(merge) loaded")
            #expect(message.contains("key 'model.merges'") && message.contains("not in the vocabulary"), "\(message)")
        }
        let notAList = try Self.mutateModel { model in model["merges"] = "a b" }
        #expect(try Self.error(notAList)?.contains("key 'model.merges': expected a list") == true)
    }

    @Test("unsupported BPE options (subword prefix, word suffix, dropout) are refused")
    func unsupportedModelOptions() throws {
        for (key, value) in [("continuing_subword_prefix", "##"), ("end_of_word_suffix", "</w>")] as [(String, Any)] {
            let json = try Self.mutateModel { $0[key] = value }
            #expect(try Self.error(json)?.contains("model.\(key)") == true)
        }
        #expect(try Self.error(try Self.mutateModel { $0["dropout"] = 0.1 })?.contains("model.dropout") == true)
        #expect(try Self.error(try Self.mutateModel { $0["dropout"] = 0 }) == nil)
    }

    @Test("a malformed added_tokens is refused, not ignored")
    func malformedAddedTokens() throws {
        let cases: [(Any, String)] = [
            ("oops", "expected a list"),
            ([1], "entry 0 is not an object"),
            ([["id": "x", "content": "<a>"]], "entry 0: id"),
            ([["content": "<a>"]], "entry 0: id"),
            ([["id": 1.5, "content": "<a>"]], "entry 0: id"),
            ([["id": 1 << 31, "content": "<a>"]], "entry 0: id"),
            ([["id": 300, "content": 3]], "\"content\""),
            ([["id": 300, "content": ""]], "\"content\""),
            ([["id": 300, "content": "<a>", "special": "yes"]], "\"special\""),
        ]
        for (value, expected) in cases {
            var json = try Self.fixture()
            json["added_tokens"] = value
            let message = try #require(try Self.error(json), "\(value) loaded")
            #expect(message.contains("key 'added_tokens'") && message.contains(expected), "\(message)")
        }
        var json = try Self.fixture()
        json["added_tokens"] = NSNull()
        #expect(try Self.error(json) == nil, "null means none")
    }

    @Test("every shipped and fixture tokenizer.json still loads")
    func shippedTokenizersLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let paths = ["Assets/tokenizer/tokenizer.json", "Assets/models/moe-tiny/tokenizer.json", "Assets/models/moepp-tiny/tokenizer.json"]
            .map { root.appendingPathComponent($0).path }
            + ["hf-tokenizer-bytelevel", "hf-tokenizer-sentencepiece", "hf-tokenizer-metaspace", "torch-moepp"].map { TestSupport.fixture($0 + "/tokenizer.json") }
        for path in paths { _ = try Tokenizer.load(path: path) }
    }
}
