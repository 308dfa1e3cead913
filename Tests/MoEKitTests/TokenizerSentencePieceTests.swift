import Foundation
import Testing
@testable import MoEKit

@Suite("tokenizer.model: sentencepiece agreement, hostile bytes, writer, loading")
struct TokenizerSentencePieceTests {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let decoded: String
    }

    struct DecodeCase: Decodable {
        let ids: [Int]
        let decoded: String
    }

    static let models = ["sentencepiece-bpe", "sentencepiece-unigram"]

    func load<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture(path))))
    }

    @Test("ids and decoded text equal the sentencepiece library's", arguments: models)
    func agreesWithSentencePiece(name: String) throws {
        let tokenizer = try Tokenizer.load(directory: TestSupport.fixture(name))
        #expect(tokenizer.style == .sentencePieceModel)
        for item in try load([Case].self, name + "/expected.json") {
            #expect(tokenizer.encode(item.text) == item.ids, "\(name): \(item.text.debugDescription)")
            #expect(tokenizer.decode(item.ids) == item.decoded, "\(name): \(item.text.debugDescription)")
        }
        // Sequences encoding never yields: stray bytes, control pieces, repeated "▁".
        for item in try load([DecodeCase].self, name + "/decode.json") {
            #expect(tokenizer.decode(item.ids) == item.decoded, "\(name): \(item.ids)")
        }
    }

    @Test("streaming decode equals whole decode and never emits half a character", arguments: models)
    func streaming(name: String) throws {
        let tokenizer = try Tokenizer.load(directory: TestSupport.fixture(name))
        for item in try load([Case].self, name + "/expected.json") {
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var pieces = item.ids.map { decoder.push($0) }
            pieces.append(decoder.finish())
            #expect(pieces.joined() == item.decoded)
            #expect(!pieces.contains { $0.contains("\u{FFFD}") }, "\(item.text.debugDescription): \(pieces)")
        }
    }

    @Test("bos, eos and the prefix come from the model and tokenizer_config.json")
    func specialIds() throws {
        let tokenizer = try Tokenizer.load(directory: TestSupport.fixture("sentencepiece-bpe"))
        #expect(tokenizer.bosTokenId == 1 && tokenizer.prefixTokenId == 1 && tokenizer.eosTokenId == 2)
        #expect(tokenizer.suffixTokenId == nil)
        #expect(tokenizer.isSpecial(1) && tokenizer.decode([1, 2]) == "", "control pieces decode to nothing")
        #expect(!tokenizer.encode("<s>").contains(1), "control pieces are never produced from text")

        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.copyItem(atPath: TestSupport.fixture("sentencepiece-bpe/tokenizer.model"), toPath: directory + "/tokenizer.model")
        try Data(#"{"add_bos_token": false, "add_eos_token": true, "eos_token": {"content": "</s>"}}"#.utf8)
            .write(to: URL(fileURLWithPath: directory + "/tokenizer_config.json"))
        let configured = try Tokenizer.load(directory: directory)
        #expect(configured.prefixTokenId == nil && configured.bosTokenId == 1 && configured.suffixTokenId == 2)
    }

    @Test("load(directory:) prefers tokenizer.json and names what is missing")
    func directoryChoice() throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.copyItem(atPath: TestSupport.fixture("sentencepiece-bpe/tokenizer.model"), toPath: directory + "/tokenizer.model")
        try FileManager.default.copyItem(atPath: TestSupport.fixture("hf-tokenizer-bytelevel/tokenizer.json"), toPath: directory + "/tokenizer.json")
        #expect(try Tokenizer.load(directory: directory).style == .byteLevel(.gpt2))
        // A tokenizer.json of a kind we do not run beside its tokenizer.model: the .model runs.
        try Data(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8).write(to: URL(fileURLWithPath: directory + "/tokenizer.json"))
        #expect(try Tokenizer.load(directory: directory).style == .sentencePieceModel)
        unlink(directory + "/tokenizer.model")
        #expect(throws: CheckpointError.self) { try Tokenizer.load(directory: directory) }
        let empty = TestSupport.temporaryDirectory()
        #expect(throws: CheckpointError.self) { try Tokenizer.load(directory: empty) }
    }

    @Test("truncated or corrupted tokenizer.model bytes: a one-line error or a model, never a crash", arguments: models)
    func hostileBytes(name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture(name + "/tokenizer.model"))))
        var errors = 0
        func attempt(_ data: [UInt8]) {
            do {
                let tokenizer = try Tokenizer(sentencePiece: SentencePieceModel(protobuf: data))
                _ = tokenizer.decode(tokenizer.encode("Hello wörld 🙂 <sep> 123  x\t"))
            } catch {
                errors += 1
                #expect(!"\(error)".contains("\n") && !"\(error)".isEmpty, "\(error)")
            }
        }
        for end in stride(from: 0, to: bytes.count, by: 7) { attempt(Array(bytes[..<end])) }
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            var copy = bytes
            for _ in 0...(random.next() % 4) { copy[Int(random.next() % UInt64(copy.count))] = UInt8(truncatingIfNeeded: random.next()) }
            attempt(copy)
        }
        #expect(errors > 0)
    }

    @Test("the protobuf reader names the byte where it fails")
    func protobufErrors() {
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try SentencePieceModel(protobuf: bytes); return "parsed" } catch { return "\(error)" }
        }
        #expect(message([0x0A, 0x05, 0x0A]) == "byte 1: length 5 runs past the end (1 bytes left)")
        #expect(message([0x30] + [UInt8](repeating: 0xFF, count: 10)) == "byte 1: varint overflows 64 bits")
        #expect(message([0x0D, 0, 0, 0, 0]) == "byte 0: field 1 has wire type 5, expected 2")
        #expect(message([0x0B]) == "byte 0: unsupported wire type 3")
        #expect(message([0x12, 0x01, 0x18]) == "byte 3: varint runs past the end", "positions inside nested messages are file positions")
    }

    @Test("absent fields take proto2 defaults (an empty model is a Unigram one)")
    func defaults() throws {
        let model = try SentencePieceModel(protobuf: [])
        #expect(model.trainerSpec.modelType == .unigram && model.trainerSpec.padId == -1 && !model.trainerSpec.byteFallback)
        #expect(model.normalizerSpec.addDummyPrefix && model.normalizerSpec.removeExtraWhitespaces && model.normalizerSpec.escapeWhitespaces)
        #expect(throws: (any Error).self) { try Tokenizer(sentencePiece: model) }  // no <unk> piece
    }

    @Test("the writer's model reads back equal and encodes as BPE with byte fallback")
    func writer() throws {
        let model = SentencePieceModelWriter.llamaStyleBPE(merged: ["▁", "h", "e", "l", "o", "▁h", "el", "▁hel", "lo", "▁hello"], userDefined: ["<sep>"])
        let bytes = SentencePieceModelWriter.encode(model)
        #expect(try SentencePieceModel(protobuf: bytes) == model)
        let tokenizer = try Tokenizer(sentencePiece: model)
        let ids = tokenizer.encode("hello<sep>é")
        #expect(ids.map(tokenizer.tokenString) == ["▁hello", "<sep>", "<0xC3>", "<0xA9>"])
        #expect(tokenizer.decode(ids) == "hello<sep>é")
        #expect(tokenizer.vocabularySize == 3 + 1 + 256 + 10)
    }
}
