import Foundation
import Testing
@testable import MoEKit

@Suite("Safetensors, config.json and loader errors")
struct CheckpointTests {
    func writeRaw(_ bytes: [UInt8], _ name: String = "model.safetensors") -> String {
        let directory = TestSupport.temporaryDirectory()
        let path = directory + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func safetensors(header: String, data: [UInt8]) -> [UInt8] {
        var length = UInt64(header.utf8.count).littleEndian
        return withUnsafeBytes(of: &length) { Array($0) } + Array(header.utf8) + data
    }

    func expectError(_ path: String, contains fragments: [String]) {
        do {
            _ = try SafeTensorsFile(path: path)
            Issue.record("expected an error for \(path)")
        } catch let error as CheckpointError {
            let message = error.description
            #expect(!message.contains("\n"), "one line: \(message)")
            #expect(message.hasPrefix(path), "names the file: \(message)")
            for fragment in fragments { #expect(message.contains(fragment), "\(message) should mention \(fragment)") }
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    @Test("written tensors read back with dtype, shape and values")
    func roundTrip() throws {
        let path = TestSupport.temporaryDirectory() + "/t.safetensors"
        var writer = SafeTensorsWriter()
        writer.metadata = ["format": "pt"]
        writer.add("a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        writer.add("b.half", shape: [4], values: [0.5, -1, 2, 8], dtype: .f16)
        writer.add("c.brain", shape: [1, 2], values: [3, -0.25], dtype: .bf16)
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata["format"] == "pt")
        #expect(file.tensors["a"]?.shape == [2, 3])
        #expect(file.tensors["a"]?.floats() == [1, 2, 3, 4, 5, 6])
        #expect(file.tensors["b.half"]?.format == .f16)
        #expect(file.tensors["b.half"]?.floats() == [0.5, -1, 2, 8])
        #expect(file.tensors["c.brain"]?.floats() == [3, -0.25])
    }

    @Test("a missing file is named")
    func missingFile() { expectError("/nonexistent/model.safetensors", contains: ["no such file"]) }

    @Test("a file too short for a header length")
    func tooShort() { expectError(writeRaw([1, 2, 3]), contains: ["truncated"]) }

    @Test("a header length beyond the end of the file")
    func headerBeyondFile() { expectError(writeRaw([100, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)), contains: ["header length 100", "beyond"]) }

    @Test("a header that is not JSON")
    func badHeader() { expectError(writeRaw(safetensors(header: "{nope", data: [])), contains: ["JSON"]) }

    @Test("an unknown dtype names the tensor")
    func unknownDtype() {
        expectError(writeRaw(safetensors(header: #"{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])),
                    contains: ["'w'", "Q4"])
    }

    @Test("truncated data names the tensor")
    func truncatedData() {
        expectError(writeRaw(safetensors(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [0, 0, 0, 0])),
                    contains: ["'w'", "truncated"])
    }

    @Test("byte count disagreeing with shape names the tensor")
    func shapeBytesMismatch() {
        expectError(writeRaw(safetensors(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
                    contains: ["'w'", "shape"])
    }

    @Test("a header length field larger than the file")
    func hugeHeaderLength() {
        var bytes = [UInt8](repeating: 0xFF, count: 8)
        bytes += Array("{}".utf8)
        expectError(writeRaw(bytes), contains: ["header length"])
    }

    func loadError(_ directory: String) -> String? {
        do {
            _ = try Transformer(directory: directory)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("a missing tensor is named with its file")
    func missingTensor() throws {
        let directory = TestSupport.randomCheckpoint(.moepp)
        let file = try SafeTensorsFile(path: directory + "/model.safetensors")
        var writer = SafeTensorsWriter()
        let dropped = "model.layers.1.mlp.moe.gate.gate_map.weight"
        for (name, view) in file.tensors where name != dropped {
            writer.add(name, shape: view.shape, values: view.floats())
        }
        try writer.write(to: directory + "/model.safetensors")
        let message = try #require(loadError(directory))
        #expect(message.contains(dropped) && message.contains("model.safetensors") && message.contains("missing"), "\(message)")
    }

    @Test("a tensor of the wrong shape is named with both shapes")
    func wrongShape() throws {
        let directory = TestSupport.randomCheckpoint(.mixtral)
        let file = try SafeTensorsFile(path: directory + "/model.safetensors")
        var writer = SafeTensorsWriter()
        for (name, view) in file.tensors {
            if name == "model.norm.weight" { writer.add(name, shape: [3], values: [1, 1, 1]) } else { writer.add(name, shape: view.shape, values: view.floats()) }
        }
        try writer.write(to: directory + "/model.safetensors")
        let message = try #require(loadError(directory))
        #expect(message.contains("model.norm.weight") && message.contains("[3]") && message.contains("[32]"), "\(message)")
    }

    @Test("bad config values name config.json and the key", arguments: [
        ("\"hidden_size\": 32", "\"hidden_size\": \"big\"", "hidden_size"),
        ("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 0", "num_hidden_layers"),
        ("\"num_experts\": [8]", "\"num_experts\": [3]", "num_experts"),
        ("\"moe_topk\": 2", "\"moe_topk\": 9", "moe_topk"),
        ("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act"),
        ("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\"}", "rope_scaling"),
        ("\"model_type\": \"moe++\"", "\"model_type\": \"gpt2\"", "model_type"),
        ("\"moe_use_logits_norm\": true", "\"moe_use_logits_norm\": 1", "moe_use_logits_norm"),
    ])
    func badConfig(original: String, replacement: String, key: String) throws {
        let directory = TestSupport.randomCheckpoint(.moepp)
        let path = directory + "/config.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(original), "fixture config has \(original)")
        try text.replacingOccurrences(of: original, with: replacement).write(toFile: path, atomically: true, encoding: .utf8)
        let message = try #require(loadError(directory))
        #expect(message.contains("config.json") && message.contains("'\(key)'") && !message.contains("\n"), "\(message)")
    }

    @Test("a sharded checkpoint loads through model.safetensors.index.json and matches the single file")
    func sharded() throws {
        let single = TestSupport.randomCheckpoint(.mixtral, seed: 5)
        let sharded = TestSupport.temporaryDirectory()
        let file = try SafeTensorsFile(path: single + "/model.safetensors")
        var shards = [SafeTensorsWriter(), SafeTensorsWriter()]
        var weightMap: [String: String] = [:]
        for (index, name) in file.tensors.keys.sorted().enumerated() {
            let view = file.tensors[name]!
            shards[index % 2].add(name, shape: view.shape, values: view.floats())
            weightMap[name] = "model-0000\(index % 2 + 1)-of-00002.safetensors"
        }
        try shards[0].write(to: sharded + "/model-00001-of-00002.safetensors")
        try shards[1].write(to: sharded + "/model-00002-of-00002.safetensors")
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": weightMap])
        _ = FileManager.default.createFile(atPath: sharded + "/model.safetensors.index.json", contents: index)
        try FileManager.default.copyItem(atPath: single + "/config.json", toPath: sharded + "/config.json")
        let a = try Transformer(directory: single), b = try Transformer(directory: sharded)
        #expect(b.weights.files.count == 2)
        let tokens = [5, 9, 200, 17]
        let la = try a.forward(tokens, cache: a.makeCache()).logits
        let lb = try b.forward(tokens, cache: b.makeCache()).logits
        #expect(la == lb)
    }

    @Test("an index naming a missing shard names that shard")
    func missingShard() throws {
        let directory = TestSupport.temporaryDirectory()
        let index = try JSONSerialization.data(withJSONObject: ["weight_map": ["a": "model-00001-of-00002.safetensors"]])
        _ = FileManager.default.createFile(atPath: directory + "/model.safetensors.index.json", contents: index)
        do {
            _ = try CheckpointWeights(directory: directory)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("model-00001-of-00002.safetensors") && "\(error)".contains("no such file"), "\(error)")
        }
    }
}
