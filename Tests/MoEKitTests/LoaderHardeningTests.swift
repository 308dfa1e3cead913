import Foundation
import Testing
@testable import MoEKit

/// Issue 11's loader cases: each input here used to crash, hang or load silently wrong.
@Suite("Loader hardening: huge configs, FIFOs, untiled safetensors, RoPE spellings")
struct LoaderHardeningTests {
    func configJSON(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let directory = TestSupport.randomCheckpoint(.mixtral)
        let path = directory + "/config.json"
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        return directory
    }

    func loadError(_ directory: String) -> String {
        do {
            _ = try Transformer(directory: directory)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func expectOneLine(_ message: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!message.isEmpty, "expected an error", sourceLocation: sourceLocation)
        #expect(!message.contains("\n"), "one line: \(message)", sourceLocation: sourceLocation)
        for fragment in fragments { #expect(message.contains(fragment), "\(message) should mention \(fragment)", sourceLocation: sourceLocation) }
    }

    @Test("num_hidden_layers of 10^9 is refused before anything is allocated", arguments: [1_000_000_000, 4096])
    func absurdLayerCount(layers: Int) throws {
        let directory = try configJSON { $0["num_hidden_layers"] = layers }
        expectOneLine(loadError(directory), ["num_hidden_layers"])
    }

    @Test("a config with fewer layers than the checkpoint is not silently truncated")
    func fewerLayersThanStored() throws {
        let directory = try configJSON { $0["num_hidden_layers"] = 1 }
        expectOneLine(loadError(directory), ["num_hidden_layers", "holds 2"])
    }

    @Test("absurd sizes in config.json are refused with the key", arguments: ["num_local_experts", "vocab_size", "hidden_size", "max_position_embeddings"])
    func absurdSizes(key: String) throws {
        let directory = try configJSON { $0[key] = Int64(1) << 40 }
        expectOneLine(loadError(directory), [key])
    }

    @Test("a FIFO in place of config.json or model.safetensors is refused at once", arguments: ["config.json", "model.safetensors"])
    func fifo(name: String) throws {
        let directory = TestSupport.randomCheckpoint(.mixtral)
        let path = directory + "/" + name
        try FileManager.default.removeItem(atPath: path)
        #expect(mkfifo(path, 0o644) == 0)
        expectOneLine(loadError(directory), [name, "not a regular file"])
    }

    @Test("transformers 5 spelling: rope_parameters.rope_theta is read")
    func ropeParameters() throws {
        let reference = try ModelConfig.load(path: try configJSON { $0["rope_theta"] = 500_000.0 } + "/config.json")
        let directory = try configJSON { object in
            object.removeValue(forKey: "rope_theta")
            object["rope_parameters"] = ["rope_theta": 500_000.0, "rope_type": "default"]
            object["head_dim"] = NSNull()
            object["sliding_window"] = NSNull()
        }
        let config = try ModelConfig.load(path: directory + "/config.json")
        #expect(config.ropeTheta == 500_000)
        #expect(config.ropeTheta == reference.ropeTheta)
        #expect(config.headDim == reference.headDim)
    }

    @Test("RoPE types moepp does not implement are refused in one line", arguments: ["yarn", "llama3", "longrope", "dynamic"])
    func unsupportedRope(type: String) throws {
        for key in ["rope_scaling", "rope_parameters"] {
            let directory = try configJSON { $0[key] = ["rope_type": type, "factor": 4.0, "rope_theta": 10_000.0] }
            expectOneLine(loadError(directory), [key, type])
        }
    }

    // MARK: safetensors tiling

    func safetensors(header: String, data: [UInt8], headerLengthDelta: Int = 0) -> String {
        let directory = TestSupport.temporaryDirectory()
        let path = directory + "/model.safetensors"
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count + headerLengthDelta).littleEndian) { Array($0) }
        bytes += Array(header.utf8) + data
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func safetensorsError(_ path: String) -> String {
        do {
            _ = try SafeTensorsFile(path: path)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("a header length one byte short (padding absorbs it) no longer shifts every weight")
    func headerLengthOneShort() {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  "#
        expectOneLine(safetensorsError(safetensors(header: header, data: [UInt8](repeating: 1, count: 8), headerLengthDelta: -1)), ["after the last tensor"])
    }

    @Test("overlapping tensors, gaps and trailing bytes are refused")
    func tiling() {
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expectOneLine(safetensorsError(safetensors(header: overlap, data: [UInt8](repeating: 0, count: 12))), ["overlaps"])
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        expectOneLine(safetensorsError(safetensors(header: gap, data: [UInt8](repeating: 0, count: 8))), ["'a'", "unused"])
        let trailing = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        expectOneLine(safetensorsError(safetensors(header: trailing, data: [UInt8](repeating: 0, count: 9))), ["5 bytes after"])
    }

    @Test("a shape whose element count overflows is refused")
    func overflowingShape() {
        let header = #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#
        expectOneLine(safetensorsError(safetensors(header: header, data: [0, 0, 0, 0])), ["'a'", "elements"])
    }

    @Test("a duplicated tensor name (JSON keeps one) leaves a gap and is refused")
    func duplicateName() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let message = safetensorsError(safetensors(header: header, data: [UInt8](repeating: 0, count: 8)))
        expectOneLine(message, [])
    }
}
