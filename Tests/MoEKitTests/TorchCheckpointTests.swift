import Foundation
import Testing
@testable import MoEKit

/// PyTorch `.bin` checkpoints: the reader against files made by the real torch.save
/// (`make torch-fixtures`), hostile and damaged files, and the writer read back.
@Suite("PyTorch .bin checkpoints")
struct TorchCheckpointTests {
    static let shardNames = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]

    func shardPaths() -> [String] { Self.shardNames.map { TestSupport.fixture("torch-moepp/" + $0) } }

    func bytes(_ view: TensorView) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: view.base, count: view.elementCount * view.format.byteSize))
    }

    /// Opening `path` must fail with a one-line CheckpointError naming the file and mentioning
    /// every fragment.
    func expectRefusal(_ path: String, mentioning fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try TorchCheckpointFile(path: path)
            Issue.record("expected \(path) to be refused", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            let message = error.description
            #expect(!message.contains("\n"), "one line: \(message)", sourceLocation: sourceLocation)
            #expect(message.hasPrefix(path + ": "), "names the file: \(message)", sourceLocation: sourceLocation)
            for fragment in fragments {
                #expect(message.contains(fragment), "\(message) should mention \(fragment)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Opens `path` and tells whether it was refused. Either way nothing may crash, views must lie
    /// inside the file, and a refusal must be one line naming the file.
    func refusedCleanly(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        do {
            let checkpoint = try TorchCheckpointFile(path: path)
            // Touch every view's first and last byte: views must lie inside the mapping.
            for view in checkpoint.tensors.values where view.elementCount > 0 {
                #expect(view.offset >= 0 && view.offset + view.elementCount * view.format.byteSize <= view.file.size, sourceLocation: sourceLocation)
            }
            return false
        } catch let error as CheckpointError {
            #expect(!error.description.contains("\n"), "one line: \(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(path + ": "), "names the file: \(error)", sourceLocation: sourceLocation)
            return true
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
            return true
        }
    }

    func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    func contents(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path)!) }

    // MARK: - Files made by torch.save

    /// Shard 1 is a module-style OrderedDict whose `_metadata` torch pickles with BUILD; shard 2 a
    /// plain dict (EMPTY_DICT), as transformers' shard splitting saves it.
    @Test("every tensor of the .bin shards equals the safetensors copy: format, shape and bytes")
    func shardsEqualSafetensors() throws {
        let reference = try SafeTensorsFile(path: TestSupport.fixture("torch-moepp-safetensors/model.safetensors"))
        var seen: Set<String> = []
        for path in shardPaths() {
            let shard = try TorchCheckpointFile(path: path)
            #expect(shard.tensorNames.count == shard.tensors.count)
            for (name, view) in shard.tensors {
                #expect(seen.insert(name).inserted, "\(name) in two shards")
                guard let expected = reference.tensors[name] else {
                    Issue.record("\(name) missing from the safetensors copy")
                    continue
                }
                #expect(view.format == expected.format, "\(name)")
                #expect(view.shape == expected.shape, "\(name)")
                #expect(bytes(view) == bytes(expected), "\(name)")
                #expect(view.offset % 64 == 0, "\(name): torch.save aligns storages to 64 bytes")
            }
        }
        #expect(seen == Set(reference.tensors.keys))
    }

    @Test("the release layout: bf16 weights, an fp32 router, an index naming each tensor's shard")
    func releaseLayout() throws {
        let shards = try shardPaths().map { try TorchCheckpointFile(path: $0) }
        let router = try #require(shards[0].tensors["model.layers.0.mlp.moe.gate.wg.weight"])
        #expect(router.format == .f32)
        #expect(router.shape == [8, 32])
        #expect(shards[0].tensors["model.layers.0.mlp.moe.experts.experts.0.up_proj.weight"]?.format == .bf16)
        #expect(shards[0].tensors["model.layers.0.mlp.moe.experts.experts.0.up_proj.weight"]?.shape == [128, 32])
        #expect(shards[1].tensors["lm_head.weight"]?.shape == [300, 32])

        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("torch-moepp/pytorch_model.bin.index.json"))))
        let weightMap = try #require((index as? [String: Any])?["weight_map"] as? [String: String])
        #expect(weightMap.count == shards.reduce(0) { $0 + $1.tensors.count })
        for (name, shardName) in weightMap {
            let shard = try #require(Self.shardNames.firstIndex(of: shardName))
            #expect(shards[shard].tensors[name] != nil, "\(name) should be in \(shardName)")
        }

        let config = try ModelConfig.load(path: TestSupport.fixture("torch-moepp/config.json"))
        #expect(config.numExperts == 8)
        #expect(config.topK == 2)
        #expect(config.vocabSize == 300)
    }

    @Test("tensors sharing one storage are views at their element offsets")
    func sharedStorage() throws {
        let checkpoint = try TorchCheckpointFile(path: TestSupport.fixture("torch-shared/shared-storage.bin"))
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("torch-shared/expected.json")))) as? [String: [String: Any]])
        #expect(Set(checkpoint.tensors.keys) == Set(expected.keys))
        let whole = try #require(checkpoint.tensors["whole"])
        let gate = try #require(checkpoint.tensors["gate"])
        for (name, fields) in expected {
            let view = try #require(checkpoint.tensors[name])
            #expect(view.shape == (fields["shape"] as? [Int]), "\(name)")
            #expect(view.floats() == (fields["values"] as? [Double])?.map(Float.init), "\(name)")
            let storageStart = view.format == .bf16 ? gate.offset : whole.offset
            #expect(view.offset - storageStart == (fields["offset_elements"] as? Int ?? -1) * view.format.byteSize, "\(name)")
        }
        #expect(checkpoint.tensors["up"]?.format == .bf16)
    }

    // MARK: - Hostile files

    @Test("hostile pickles and files are refused in one line naming the opcode or global and its position",
          arguments: [
              ("global-os-system.bin", ["GLOBAL 'os system'", "data.pkl' byte 2"]),
              ("global-builtins-eval.bin", ["GLOBAL 'builtins eval'", "byte 2"]),
              ("reduce-unlisted.bin", ["REDUCE of 'torch.FloatStorage'"]),
              ("opcode-inst.bin", ["INST (0x69)", "byte 3"]),
              ("opcode-frame.bin", ["FRAME (0x95)", "byte 2"]),
              ("non-contiguous.bin", ["'transposed'", "not contiguous", "[3, 4]", "[1, 3]"]),
              ("int64-tensor.bin", ["GLOBAL 'torch LongStorage'"]),
              ("big-endian.bin", ["byte order 'big'"]),
          ])
    func hostile(file: String, fragments: [String]) {
        expectRefusal(TestSupport.fixture("torch-hostile/" + file), mentioning: fragments)
    }

    @Test("pickles that underflow the stack, miss the memo, lie about lengths or nest deeply are errors")
    func malformedPickles() {
        let header: [UInt8] = [0x80, 2]
        let cases: [([UInt8], String)] = [
            (header + [0x52], "stack underflow"),                                  // REDUCE on an empty stack
            (header + [0x68, 5], "memo 5"),                                        // BINGET never stored
            (header + [0x58, 0xFF, 0xFF, 0xFF, 0x7F], "truncated"),                // BINUNICODE longer than the pickle
            (header + [0x55, 200, 0x41], "truncated"),                             // SHORT_BINSTRING
            (header + [0x8A, 9] + [UInt8](repeating: 1, count: 9) + [0x2E], "wider than 64 bits"),
            (header + [0x74], "without a MARK"),                                   // TUPLE
            (header + [0x28, 0x29, 0x2E], "unclosed MARK"),
            (header + [0x29] + [UInt8](repeating: 0x85, count: 200_000) + [0x2E], "not a state dict"),  // deep nesting
            (header + [UInt8](repeating: 0x28, count: 100_000) + [0x2E], "MARK"),
            (header + [0x7D, 0x71, 0, 0x68, 0, 0x68, 0, 0x73, 0x2E], "not a string"),  // a dict that holds itself
            (header + [0x7D], "without STOP"),
            (header + [0x63, 0x6F, 0x73], "newline"),                              // GLOBAL cut off
            (header + [0x58, 2, 0, 0, 0, 0xC3, 0x28, 0x2E], "UTF-8"),
            ([0xFF], "unknown opcode 0xFF"),
            (header + Array("co\rs\nsystem\n".utf8), #"GLOBAL 'o\rs system'"#),          // escaped, still one line
        ]
        for (pickle, fragment) in cases {
            pickle.withUnsafeBytes { bytes in
                var unpickler = WeightsOnlyUnpickler(bytes: bytes, path: "test.bin", entryName: "archive/data.pkl")
                do {
                    _ = try unpickler.stateDict()
                    Issue.record("expected \(pickle.prefix(12)) to be refused")
                } catch let error as CheckpointError {
                    #expect(!error.description.contains("\n") && !error.description.contains("\r"))
                    #expect(error.description.contains(fragment), "\(error) should mention \(fragment)")
                } catch {
                    Issue.record("unexpected error type: \(error)")
                }
            }
        }
    }

    // MARK: - Damaged files

    @Test("a shard cut short at any point is a one-line error, never a crash")
    func truncated() {
        let original = contents(shardPaths()[0])
        let directory = TestSupport.temporaryDirectory()
        var cuts = Array(stride(from: 0, to: original.count, by: 251))
        cuts += Array(max(0, original.count - 400)..<original.count)
        for cut in Set(cuts).sorted() {
            let path = directory + "/cut-\(cut).bin"
            write(Array(original[..<cut]), to: path)
            #expect(refusedCleanly(path), "a file cut at \(cut) of \(original.count) bytes should be refused")
            unlink(path)
        }
    }

    @Test("lying sizes and offsets in the central directory, end record and pickle are one-line errors")
    func lyingSizes() throws {
        let path = shardPaths()[0]
        let original = contents(path)
        let archive = try ZipArchive(file: MappedFile(path: path))
        let directory = TestSupport.temporaryDirectory()
        let end = try #require(Self.lastIndex(of: [0x50, 0x4B, 0x05, 0x06], in: original))
        let centralStart = Int(Self.u32(original, end + 16))

        // (byte offset, width) of fields to corrupt: every central entry's sizes, offset and name length.
        var fields: [(Int, Int)] = [(end + 10, 2), (end + 12, 4), (end + 16, 4), (end + 20, 2)]
        var position = centralStart
        for _ in archive.entries {
            fields += [(position + 20, 4), (position + 24, 4), (position + 28, 2), (position + 30, 2), (position + 42, 4)]
            position += 46 + Int(Self.u16(original, position + 28)) + Int(Self.u16(original, position + 30)) + Int(Self.u16(original, position + 32))
        }
        let lies: [UInt64] = [0, 1, 0x7FFF, 0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFE, UInt64(original.count), UInt64(original.count + 1)]
        var refused = 0
        for (index, (offset, width)) in fields.enumerated() {
            for lie in lies {
                var damaged = original
                for byte in 0..<width { damaged[offset + byte] = UInt8(truncatingIfNeeded: lie >> (8 * UInt64(byte))) }
                let damagedPath = directory + "/lie-\(index)-\(lie).bin"
                write(damaged, to: damagedPath)
                if refusedCleanly(damagedPath) { refused += 1 }
                unlink(damagedPath)
            }
        }
        #expect(refused > fields.count * 4, "most lies are caught (\(refused) of \(fields.count * lies.count))")

        // The pickle's own lengths: every BINUNICODE length and BININT1 operand, made absurd.
        let pickleEntry = try #require(archive.entries.first { $0.name.hasSuffix("/data.pkl") })
        let pickleRange = pickleEntry.dataOffset..<(pickleEntry.dataOffset + pickleEntry.size)
        var lengthFields = 0
        for offset in pickleRange where original[offset] == 0x58 && offset + 5 < pickleRange.upperBound && lengthFields < 40 {
            var damaged = original
            damaged.replaceSubrange(offset + 1..<offset + 5, with: [0xF0, 0xFF, 0xFF, 0x7F])
            let damagedPath = directory + "/pickle-\(offset).bin"
            write(damaged, to: damagedPath)
            _ = refusedCleanly(damagedPath)
            unlink(damagedPath)
            lengthFields += 1
        }
        #expect(lengthFields > 10)
    }

    @Test("a storage entry shorter than its tensors need, or missing, names the tensor")
    func storageLies() throws {
        let path = TestSupport.fixture("torch-shared/shared-storage.bin")
        let original = contents(path)
        let archive = try ZipArchive(file: MappedFile(path: path))
        let directory = TestSupport.temporaryDirectory()
        let end = try #require(Self.lastIndex(of: [0x50, 0x4B, 0x05, 0x06], in: original))
        var position = Int(Self.u32(original, end + 16))
        for entry in archive.entries {
            let nameLength = Int(Self.u16(original, position + 28))
            if entry.name.hasSuffix("/data/0") {
                // Claim 8 fewer bytes in both size fields of the central directory.
                var damaged = original
                for field in [position + 20, position + 24] {
                    let smaller = Self.u32(original, field) - 8
                    for byte in 0..<4 { damaged[field + byte] = UInt8(truncatingIfNeeded: smaller >> (8 * UInt32(byte))) }
                }
                write(damaged, to: directory + "/short.bin")
                expectRefusal(directory + "/short.bin", mentioning: ["tensor 'whole'", "fewer than its 40 f32 elements"])
                // Rename the entry (same length), so the storage is missing.
                damaged = original
                damaged[position + 46 + nameLength - 1] = UInt8(ascii: "9")
                let local = entry.localHeaderOffset
                damaged[local + 30 + nameLength - 1] = UInt8(ascii: "9")
                write(damaged, to: directory + "/missing.bin")
                expectRefusal(directory + "/missing.bin", mentioning: ["tensor 'whole'", "data/0' is missing"])
            }
            position += 46 + nameLength + Int(Self.u16(original, position + 30)) + Int(Self.u16(original, position + 32))
        }
    }

    @Test("files that are not zips at all")
    func notZips() {
        let directory = TestSupport.temporaryDirectory()
        write([], to: directory + "/empty.bin")
        expectRefusal(directory + "/empty.bin", mentioning: ["not a zip archive"])
        write(Array("just some text, long enough to hold an end record".utf8), to: directory + "/text.bin")
        expectRefusal(directory + "/text.bin", mentioning: ["not a zip archive"])
        expectRefusal("/nonexistent/model.bin", mentioning: ["no such file"])
        expectRefusal(directory, mentioning: ["not a regular file"])
    }

    // MARK: - Writer

    /// Writes every tensor of the safetensors fixture, streamed in 100-byte chunks.
    func writeCopy(to path: String, forceZip64: Bool) throws -> SafeTensorsFile {
        let source = try SafeTensorsFile(path: TestSupport.fixture("torch-moepp-safetensors/model.safetensors"))
        let writer = try TorchCheckpointWriter(path: path, forceZip64: forceZip64)
        for name in source.tensors.keys.sorted() {
            let view = source.tensors[name]!
            let all = UnsafeRawBufferPointer(start: view.base, count: view.elementCount * view.format.byteSize)
            try writer.append(name: name, format: view.format, shape: view.shape) { write in
                for start in stride(from: 0, to: all.count, by: 100) {
                    try write(UnsafeRawBufferPointer(rebasing: all[start..<min(start + 100, all.count)]))
                }
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path), "nothing under the final name before finish()")
        try writer.finish()
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        return source
    }

    @Test("written checkpoints read back equal, with and without zip64 records", arguments: [false, true])
    func writerRoundTrip(forceZip64: Bool) throws {
        let path = TestSupport.temporaryDirectory() + "/copy.bin"
        let source = try writeCopy(to: path, forceZip64: forceZip64)
        let copy = try TorchCheckpointFile(path: path)
        #expect(copy.tensorNames == source.tensors.keys.sorted())
        for (name, view) in source.tensors {
            let read = try #require(copy.tensors[name])
            #expect(read.format == view.format && read.shape == view.shape, "\(name)")
            #expect(bytes(read) == bytes(view), "\(name)")
            #expect(read.offset % 64 == 0, "\(name)")
        }
        let archive = try ZipArchive(file: copy.file)
        #expect(archive.entries.first?.name == "archive/data.pkl", "torch's directory order")
        #expect(archive.entry(named: "archive/byteorder").map { String(decoding: try! archive.storedBytes(of: $0), as: UTF8.self) } == "little")
        for entry in archive.entries {
            var crc = CRC32()
            crc.update(try archive.storedBytes(of: entry))
            // torch.load checks data.pkl's; the local header's copy is patched in after the data.
            let local = UInt32(littleEndian: copy.file.base.loadUnaligned(fromByteOffset: entry.localHeaderOffset + 14, as: UInt32.self))
            #expect(crc.checksum == entry.crc32 && local == entry.crc32, "CRC-32 of \(entry.name)")
        }
    }

    @Test("scalars, empty tensors and tensors copied from a view round-trip")
    func writerEdgeCases() throws {
        let path = TestSupport.temporaryDirectory() + "/edge.bin"
        let writer = try TorchCheckpointWriter(path: path)
        try writer.append(name: "scalar", format: .f32, shape: [], bytes: encodeFloats([7], as: .f32))
        try writer.append(name: "empty", format: .bf16, shape: [0, 3], bytes: [])
        try writer.append(name: "half", format: .f16, shape: [2, 2], bytes: encodeFloats([0.5, 1, -2, 4], as: .f16))
        let shared = try TorchCheckpointFile(path: TestSupport.fixture("torch-shared/shared-storage.bin"))
        try writer.append(shared.tensors["rows"]!, as: "rows")
        try writer.finish()
        let read = try TorchCheckpointFile(path: path)
        #expect(read.tensors["scalar"]?.shape == [] && read.tensors["scalar"]?.floats() == [7])
        #expect(read.tensors["empty"]?.shape == [0, 3] && read.tensors["empty"]?.format == .bf16)
        #expect(read.tensors["half"]?.floats() == [0.5, 1, -2, 4])
        #expect(read.tensors["rows"]?.floats() == (10..<30).map(Float.init))
    }

    @Test("a producer giving the wrong byte count, or a repeated name, fails and leaves no file")
    func writerRefusals() throws {
        let directory = TestSupport.temporaryDirectory()
        let path = directory + "/bad.bin"
        var writer: TorchCheckpointWriter? = try TorchCheckpointWriter(path: path)
        #expect(throws: CheckpointError.self) { try writer!.append(name: "w", format: .f32, shape: [4], bytes: [0, 0, 0, 0]) }
        #expect(throws: CheckpointError.self) { try writer!.finish() }
        writer = nil
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)

        writer = try TorchCheckpointWriter(path: path)
        try writer!.append(name: "w", format: .f32, shape: [1], bytes: [0, 0, 0, 0])
        #expect(throws: CheckpointError.self) { try writer!.append(name: "w", format: .f32, shape: [1], bytes: [0, 0, 0, 0]) }
        writer = nil
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("CRC-32 matches the standard check value and is the same however the bytes are split")
    func crc32() {
        let text = Array("123456789".utf8)
        var whole = CRC32()
        text.withUnsafeBytes { whole.update($0) }
        #expect(whole.checksum == 0xCBF4_3926)
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var once = CRC32(), pieces = CRC32()
        long.withUnsafeBytes { once.update($0) }
        for start in stride(from: 0, to: long.count, by: 13) {
            long[start..<min(start + 13, long.count)].withUnsafeBytes { pieces.update($0) }
        }
        #expect(once.checksum == pieces.checksum)
    }

    // MARK: - Helpers

    static func u16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
    static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 { UInt32(u16(bytes, offset)) | UInt32(u16(bytes, offset + 2)) << 16 }

    static func lastIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        stride(from: bytes.count - pattern.count, through: 0, by: -1).first { Array(bytes[$0..<$0 + pattern.count]) == pattern }
    }
}
