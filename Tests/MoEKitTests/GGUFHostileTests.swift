import Foundation
import Testing
@testable import MoEKit

/// Bad GGUF input is a one-line error naming the file (and field/tensor, byte position), never a
/// trap: crafted files for each rule, every truncation of real fixtures, and seeded byte flips.
@Suite("GGUF hostile input")
struct GGUFHostileTests {
    /// A GGUF file byte by byte. Defaults describe a valid file with one F32 tensor [2, 32].
    struct Builder {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func string(_ s: String, length: UInt64? = nil) { u64(length ?? UInt64(s.utf8.count)); bytes += Array(s.utf8) }
        mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }
    }

    struct Tensor {
        var name = "t"
        var dims: [UInt64] = [32, 2]
        var type: UInt32 = 0
        var offset: UInt64 = 0
    }

    static func file(magic: [UInt8] = Array("GGUF".utf8), version: UInt32 = 3, tensorCount: UInt64? = nil, keyCount: UInt64? = nil,
                     keys: (inout Builder) -> Int = { b in b.string("general.architecture"); b.u32(8); b.string("llama"); return 1 },
                     tensors: [Tensor] = [Tensor()], dataBytes: Int = 256, alignment: Int = 32) -> [UInt8] {
        var metadata = Builder()
        let keyTotal = keys(&metadata)
        var b = Builder()
        b.bytes += magic
        b.u32(version)
        b.u64(tensorCount ?? UInt64(tensors.count))
        b.u64(keyCount ?? UInt64(keyTotal))
        b.bytes += metadata.bytes
        for tensor in tensors {
            b.string(tensor.name)
            b.u32(UInt32(tensor.dims.count))
            tensor.dims.forEach { b.u64($0) }
            b.u32(tensor.type)
            b.u64(tensor.offset)
        }
        b.pad(to: alignment)
        b.bytes += [UInt8](repeating: 0, count: dataBytes)
        return b.bytes
    }

    /// Writes `bytes`, opens them, and returns the error's one line (nil if the file opened).
    static func open(_ bytes: [UInt8], _ label: String = #function) -> String? {
        let path = TestSupport.temporaryDirectory(label) + "/bad.gguf"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            let file = try GGUFFile(path: path)
            _ = try? GGUFModel.config(file)
            _ = try? Tokenizer.load(gguf: file.metadata)
            return nil
        } catch let error as CheckpointError {
            let text = error.description
            #expect(!text.contains("\n") && text.hasPrefix(path + ": "), "\(text)")
            return text
        } catch {
            Issue.record("not a CheckpointError: \(error)")
            return "\(error)"
        }
    }

    static func expectError(_ bytes: [UInt8], _ fragments: String..., label: String = #function) {
        guard let message = open(bytes, label) else { Issue.record("opened: expected an error with \(fragments)"); return }
        for fragment in fragments { #expect(message.contains(fragment), "\(message)") }
    }

    @Test("the crafted valid file opens (the cases below each break one rule of it)")
    func validBaseline() throws {
        #expect(Self.open(Self.file()) == nil)
    }

    @Test("wrong magic, other versions, big-endian files")
    func header() {
        Self.expectError(Self.file(magic: Array("GGUG".utf8)), "not a GGUF file", "\"GGUG\"", "byte 0")
        Self.expectError(Self.file(version: 2), "version 2", "byte 4")
        Self.expectError(Self.file(version: UInt32(3).byteSwapped), "big-endian")
        Self.expectError(Array("GGU".utf8), "truncated", "magic")
    }

    @Test("counts beyond the file")
    func counts() {
        Self.expectError(Self.file(tensorCount: 1 << 40), "tensor_count 1099511627776", "byte 8")
        Self.expectError(Self.file(keyCount: UInt64.max), "metadata_kv_count", "byte 16")
        Self.expectError(Self.file(keys: { b in b.string("big"); b.u32(9); b.u32(4); b.u64(1 << 50); return 1 }), "'big'", "array count")
        Self.expectError(Self.file(keyCount: 2), "runs beyond the file")
    }

    @Test("strings longer than the file")
    func longStrings() {
        Self.expectError(Self.file(keys: { b in b.string("k", length: 1 << 62); return 1 }), "metadata key 0", "runs beyond the file", "byte 24")
        Self.expectError(Self.file(keys: { b in b.string("k"); b.u32(8); b.string("v", length: UInt64.max); return 1 }), "'k'", "runs beyond the file")
        Self.expectError(Self.file(keys: { b in b.string("k"); b.u32(9); b.u32(8); b.u64(1); b.string("v", length: 9999); return 1 }), "'k'[0]", "runs beyond the file")
    }

    @Test("unknown value and tensor types; known ggml types without a weight format; bad bools, alignment, nesting, duplicates")
    func types() {
        Self.expectError(Self.file(keys: { b in b.string("k"); b.u32(13); b.u32(0); return 1 }), "'k'", "unknown value type 13")
        Self.expectError(Self.file(keys: { b in b.string("k"); b.u32(9); b.u32(77); b.u64(0); return 1 }), "unknown array item type 77")
        Self.expectError(Self.file(tensors: [Tensor(type: 4)]), "tensor 't'", "unknown ggml type 4")
        Self.expectError(Self.file(tensors: [Tensor(dims: [256, 2], type: 16)], dataBytes: 2 * 66), "tensor 't'", "IQ2_XXS (type 16) is not supported")
        Self.expectError(Self.file(tensors: [Tensor(dims: [17, 2], type: 2)]), "tensor 't'", "not whole Q4_0 blocks")
        Self.expectError(Self.file(keys: { b in b.string("k"); b.u32(7); b.u8(2); return 1 }), "bool byte 2")
        Self.expectError(Self.file(keys: { b in b.string("general.alignment"); b.u32(4); b.u32(48); return 1 }), "general.alignment", "48 is not a power of two")
        Self.expectError(Self.file(keys: { b in b.string("general.alignment"); b.u32(10); b.u64(32); return 1 }), "general.alignment", "expected a u32")
        Self.expectError(Self.file(keys: { b in
            b.string("deep"); b.u32(9)
            for _ in 0..<20 { b.u32(9); b.u64(1) }
            return 1
        }), "'deep'", "nested deeper")
        Self.expectError(Self.file(keys: { b in b.string("k"); b.u32(4); b.u32(1); b.string("k"); b.u32(4); b.u32(2); return 2 }), "'k' appears twice")
        Self.expectError(Self.file(tensors: [Tensor(), Tensor(offset: 256)], dataBytes: 512), "tensor 't' appears twice")
        Self.expectError(Self.file(tensors: [Tensor(dims: [1, 1, 1, 1, 1])]), "5 dimensions")
        Self.expectError(Self.file(tensors: [Tensor(dims: [1 << 40, 1 << 40])]), "tensor 't'")
    }

    @Test("misaligned, overlapping and out-of-file tensors")
    func tensorRanges() {
        Self.expectError(Self.file(tensors: [Tensor(offset: 8)]), "tensor 't'", "not a multiple of the alignment 32")
        Self.expectError(Self.file(tensors: [Tensor(name: "a"), Tensor(name: "b", offset: 224)], dataBytes: 512), "tensor 'b'", "overlaps tensor 'a'")
        Self.expectError(Self.file(tensors: [Tensor(offset: 224)]), "tensor 't'", "runs beyond the file")
        Self.expectError(Self.file(dataBytes: 255), "runs beyond the file")
        Self.expectError(Self.file(tensors: [Tensor(offset: UInt64.max - 31)]), "tensor 't'")
        #expect(Self.open(Self.file(tensors: [Tensor(name: "a"), Tensor(name: "b", offset: 288)], dataBytes: 544)) == nil, "gaps are padding")
    }

    @Test("metadata that does not describe a runnable model is refused by key")
    func modelMetadata() throws {
        func model(_ extra: @escaping (inout Builder) -> Int) -> [UInt8] {
            Self.file(keys: { b in
                b.string("general.architecture"); b.u32(8); b.string("llama")
                b.string("llama.expert_count"); b.u32(4); b.u32(4)
                return 2 + extra(&b)
            }, tensors: [])
        }
        func config(_ bytes: [UInt8]) -> String {
            let path = TestSupport.temporaryDirectory() + "/m.gguf"
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do { _ = try ModelSource(path: path).transformer(); return "opened" } catch { return "\(error)" }
        }
        #expect(config(model { _ in 0 }).contains("metadata key 'llama.embedding_length'"))
        #expect(config(model { b in b.string("llama.embedding_length"); b.u32(8); b.string("x"); return 1 }).contains("'llama.embedding_length' (at byte"))
        #expect(config(model { b in b.string("llama.embedding_length"); b.u32(4); b.u32(0); return 1 }).contains("metadata key 'llama.embedding_length': expected an integer"))
        #expect(config(model { b in b.string("llama.rope.scaling.type"); b.u32(8); b.string("yarn"); return 1 }).contains("RoPE scaling \"yarn\""))
        #expect(config(Self.file(tensors: [])).contains("general.architecture") == false)
        func deepSeek(_ extra: @escaping (inout Builder) -> Int) -> [UInt8] {
            Self.file(keys: { b in b.string("general.architecture"); b.u32(8); b.string("deepseek2"); return 1 + extra(&b) }, tensors: [])
        }
        #expect(config(deepSeek { b in b.string("deepseek2.expert_gating_func"); b.u32(4); b.u32(3); return 1 })
            .contains(#/'deepseek2.expert_gating_func' \(at byte \d+\): 3 is not implemented/#))
        #expect(config(deepSeek { b in b.string("deepseek2.rope.scaling.type"); b.u32(8); b.string("longrope"); return 1 })
            .contains("RoPE scaling \"longrope\" is not implemented for deepseek2"))
        #expect(config(deepSeek { b in
            for (key, value) in [("attention.head_count", 4), ("rope.dimension_count", 8), ("attention.key_length_mla", 4)] {
                b.string("deepseek2." + key); b.u32(4); b.u32(UInt32(value))
            }
            return 3
        }).contains(#/'deepseek2.attention.key_length_mla' \(at byte \d+\): 4 is shorter than the rope dimension 8/#))
        #expect(config(Self.file(keys: { b in b.string("general.architecture"); b.u32(8); b.string("gpt-oss"); return 1 }, tensors: []))
            .contains("architecture \"gpt-oss\" is not supported"))
    }

    @Test("every truncation of real fixtures is refused in one line")
    func truncations() throws {
        for name in ["mixtral-f16.gguf", "tokenizer-gpt2.gguf"] {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("gguf/" + name))))
            let gguf = try GGUFFile(path: TestSupport.fixture("gguf/" + name))
            // Past the last tensor's data only padding follows; past the tensor infos, a file
            // without tensors is complete.
            let lastData = gguf.tensors.values.map { $0.offset + $0.byteCount }.max() ?? gguf.dataStart - 31
            var length = 0
            while length < lastData {
                #expect(Self.open(Array(bytes[..<length]), "truncate") != nil, "\(name) cut at \(length)")
                length += length < 4096 ? 7 : 1009
            }
        }
    }

    @Test("seeded random byte flips never trap")
    func byteFlips() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("gguf/tokenizer-gpt2.gguf"))))
        var random = SeededRandom(seed: 8)
        for _ in 0..<300 {
            var mutated = bytes
            for _ in 0..<1 + Int(random.next() % 4) {
                // Mostly the header and metadata, where the structure is.
                let position = Int(random.next() % UInt64(random.next() % 2 == 0 ? min(512, bytes.count) : bytes.count))
                mutated[position] = UInt8(truncatingIfNeeded: random.next())
            }
            _ = Self.open(mutated, "flip")
        }
    }
}
