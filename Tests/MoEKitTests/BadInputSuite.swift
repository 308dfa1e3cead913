import Foundation
import Testing
import TestHelpers
@testable import MoEKit

/// Issue 11's bad-input matrix against the debug `moepp` binary (so a trap is a crash here, not
/// undefined behaviour): every case must exit non-zero with exactly one line on stderr, by no
/// signal and within the timeout. The suite prints its counts (cases / clear errors / crashes /
/// hangs), the figures README and BENCHMARKS quote.
@Suite("Bad input: the whole matrix against the debug binary, counted", .serialized)
struct BadInputSuite {
    struct Case: Sendable {
        let kind: String
        let name: String
        let arguments: [String]
    }

    enum Outcome: Equatable {
        case clearError(String), crash(Int32), hang, accepted, unclear(String)
    }

    // MARK: Building the cases

    /// A fresh copy of `source` for one case to damage.
    static func copy(_ source: String, _ label: String) throws -> String {
        let target = TestSupport.temporaryDirectory(label)
        try FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: source, toPath: target)
        return target
    }

    static func editJSON(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func generate(_ directory: String, _ extra: [String] = []) -> [String] {
        ["generate", "--model", directory, "--max-tokens", "2"] + extra + ["hello"]
    }

    static func makeCases() throws -> [Case] {
        var cases: [Case] = []
        let base = TestSupport.randomCheckpoint(.mixtral, seed: 31)
        func model(_ kind: String, _ name: String, extra: [String] = [], _ damage: (String) throws -> Void) throws {
            let directory = try copy(base, name)
            try damage(directory)
            cases.append(Case(kind: kind, name: name, arguments: generate(directory, extra)))
        }

        // config.json
        let configEdits: [(String, (inout [String: Any]) -> Void)] = [
            ("layers 10^9", { $0["num_hidden_layers"] = 1_000_000_000 }), ("layers fewer than stored", { $0["num_hidden_layers"] = 1 }),
            ("hidden -1", { $0["hidden_size"] = -1 }), ("vocab a string", { $0["vocab_size"] = "x" }),
            ("heads 0", { $0["num_attention_heads"] = 0 }), ("top-k 1000", { $0["num_experts_per_tok"] = 1000 }),
            ("rope yarn", { $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000] }),
            ("experts 2^40", { $0["num_local_experts"] = 1 << 40 }), ("rope_theta negative", { $0["rope_theta"] = -1 }),
            ("model_type unknown", { $0["model_type"] = "gpt9" }),
        ]
        for (name, edit) in configEdits { try model("config.json", "config: \(name)") { try editJSON($0 + "/config.json", edit) } }
        try model("config.json", "config: not JSON") { try write($0 + "/config.json", Array("{".utf8)) }
        try model("config.json", "config: empty") { try write($0 + "/config.json", []) }
        try model("config.json", "config: FIFO") { dir in
            unlink(dir + "/config.json"); mkfifo(dir + "/config.json", 0o644)
        }

        // model.safetensors
        let weights = "/model.safetensors"
        try model("safetensors", "safetensors: 4 bytes") { try write($0 + weights, [1, 2, 3, 4]) }
        try model("safetensors", "safetensors: empty") { try write($0 + weights, []) }
        try model("safetensors", "safetensors: header length 2^64-1") { dir in
            var data = try bytes(dir + weights); data.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8)); try write(dir + weights, data)
        }
        try model("safetensors", "safetensors: header length one short") { dir in
            var data = try bytes(dir + weights); data[0] &-= 1; try write(dir + weights, data)
        }
        try model("safetensors", "safetensors: header not JSON") { dir in
            var data = try bytes(dir + weights); data[8] = UInt8(ascii: "x"); try write(dir + weights, data)
        }
        try model("safetensors", "safetensors: last byte cut") { dir in try write(dir + weights, Array(try bytes(dir + weights).dropLast())) }
        try model("safetensors", "safetensors: trailing bytes") { dir in try write(dir + weights, try bytes(dir + weights) + [0, 0, 0, 0]) }
        try model("safetensors", "safetensors: FIFO") { dir in unlink(dir + weights); mkfifo(dir + weights, 0o644) }
        try model("safetensors", "safetensors: a directory") { dir in
            unlink(dir + weights); try FileManager.default.createDirectory(atPath: dir + weights, withIntermediateDirectories: false)
        }

        // PyTorch .bin (the official release's layout)
        let torch = TestSupport.fixture("torch-moepp")
        let shard = "/pytorch_model-00001-of-00002.bin"
        func bin(_ name: String, _ damage: (String) throws -> Void) throws {
            let directory = try copy(torch, name)
            try damage(directory)
            cases.append(Case(kind: ".bin", name: ".bin: \(name)", arguments: generate(directory)))
        }
        try bin("shard cut in half") { dir in let data = try bytes(dir + shard); try write(dir + shard, Array(data.prefix(data.count / 2))) }
        try bin("hostile pickle (os.system)") { dir in
            try FileManager.default.removeItem(atPath: dir + shard)
            try FileManager.default.copyItem(atPath: TestSupport.fixture("torch-hostile/global-os-system.bin"), toPath: dir + shard)
        }
        try bin("shard is random bytes") { dir in
            var random = SeededRandom(seed: 5); try write(dir + shard, (0..<4096).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
        try bin("shard is empty") { dir in try write(dir + shard, []) }
        try bin("index names a missing shard") { dir in unlink(dir + shard) }
        try bin("index not JSON") { dir in try write(dir + "/pytorch_model.bin.index.json", Array("[1,".utf8)) }
        try bin("central directory zeroed") { dir in
            var data = try bytes(dir + shard); for i in (data.count - 200)..<data.count { data[i] = 0 }; try write(dir + shard, data)
        }

        // tokenizer.json
        let tokenizerEdits: [(String, (String) throws -> Void)] = [
            ("id 2^31", { try rawVocab($0, "2147483648") }), ("id Int64.max", { try rawVocab($0, "9223372036854775807") }),
            ("id 10^9", { try rawVocab($0, "1000000000") }), ("id 1.5", { try rawVocab($0, "1.5") }), ("id true", { try rawVocab($0, "true") }),
            ("id beyond vocab_size", { try rawVocab($0, "300") }),
            ("missing byte symbol", { try editJSON($0 + "/tokenizer.json") { json in
                var model = json["model"] as! [String: Any]; var vocab = model["vocab"] as! [String: Any]; vocab["Ā"] = nil
                model["vocab"] = vocab; json["model"] = model } }),
            ("normalizer NFC", { try editJSON($0 + "/tokenizer.json") { $0["normalizer"] = ["type": "NFC"] } }),
            ("pre-tokenizer Whitespace", { try editJSON($0 + "/tokenizer.json") { $0["pre_tokenizer"] = ["type": "Whitespace"] } }),
            ("merge of unknown tokens", { try editJSON($0 + "/tokenizer.json") { json in
                var model = json["model"] as! [String: Any]; model["merges"] = (model["merges"] as! [Any]) + [["zq", "t"]]; json["model"] = model } }),
            ("added_tokens a string", { try editJSON($0 + "/tokenizer.json") { $0["added_tokens"] = "oops" } }),
            ("added token without id", { try editJSON($0 + "/tokenizer.json") { $0["added_tokens"] = [["content": "<x>"]] } }),
            ("model WordPiece", { try editJSON($0 + "/tokenizer.json") { json in
                var model = json["model"] as! [String: Any]; model["type"] = "WordPiece"; json["model"] = model } }),
            ("not JSON", { try write($0 + "/tokenizer.json", Array("{\"model\":".utf8)) }),
        ]
        for (name, damage) in tokenizerEdits { try model("tokenizer.json", "tokenizer.json: \(name)", damage) }

        // tokenizer.model (SentencePiece protobuf), in place of tokenizer.json
        let spm = try bytes(TestSupport.fixture("sentencepiece-bpe/tokenizer.model"))
        let protobufs: [(String, [UInt8])] = [
            ("cut at 100 bytes", Array(spm.prefix(100))), ("length varint overflow", [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            ("random bytes", (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }), ("empty", []),
            ("more pieces than vocab_size", spm),
        ]
        for (name, data) in protobufs {
            try model("tokenizer.model", "tokenizer.model: \(name)") { dir in
                unlink(dir + "/tokenizer.json"); try write(dir + "/tokenizer.model", data)
            }
        }

        // calibration.json (read by --adaptive)
        let adaptive = ["--adaptive", "0.1"]
        let calibrations: [(String, String)] = [
            ("not JSON", "{"), ("layers a string", #"{"layers":"x","calibrationTokens":1,"defaultEpsilon":0.01}"#),
            ("wrong layer count", #"{"layers":[{"sensitivity":1,"expertDifference":1,"tokens":1}],"calibrationTokens":1,"defaultEpsilon":0.01}"#),
            ("negative sensitivity", #"{"layers":[{"sensitivity":-1,"expertDifference":1,"tokens":1},{"sensitivity":1,"expertDifference":1,"tokens":1}],"calibrationTokens":1,"defaultEpsilon":0.01}"#),
            ("epsilon 0", #"{"layers":[{"sensitivity":1,"expertDifference":1,"tokens":1},{"sensitivity":1,"expertDifference":1,"tokens":1}],"calibrationTokens":1,"defaultEpsilon":0}"#),
            ("no layers", #"{"layers":[],"calibrationTokens":1,"defaultEpsilon":0.01}"#),
        ]
        for (name, text) in calibrations {
            try model("calibration.json", "calibration.json: \(name)", extra: adaptive) { try write($0 + "/calibration.json", Array(text.utf8)) }
        }

        // Training plans (checked before the corpus is read)
        let plans: [(String, (inout [String: Any]) -> Void)] = [
            ("hiddenSize -256", { $0["hiddenSize"] = -256 }), ("heads not dividing hidden", { $0["heads"] = 3 }), ("topK > experts", { $0["topK"] = 40 }),
            ("length > context", { $0["length"] = 1000 }), ("batch 0", { $0["batch"] = 0 }), ("negative rate", { $0["peakLearningRate"] = -1 }),
            ("unknown key", { $0["hidenSize"] = 8 }), ("steps a string", { $0["steps"] = "many" }), ("hiddenSize 10^6", { $0["hiddenSize"] = 1_000_000 }),
        ]
        let planObject = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainingPlan())) as! [String: Any]
        for (name, edit) in plans {
            let directory = TestSupport.temporaryDirectory("plan")
            var object = planObject
            edit(&object)
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: directory + "/plan.json"))
            cases.append(Case(kind: "plan", name: "plan: \(name)", arguments: ["train", "--plan", directory + "/plan.json", "--run", directory + "/run"]))
        }
        let planDirectory = TestSupport.temporaryDirectory("plannotjson")
        try write(planDirectory + "/plan.json", Array("{".utf8))
        cases.append(Case(kind: "plan", name: "plan: not JSON", arguments: ["train", "--plan", planDirectory + "/plan.json", "--run", planDirectory + "/run"]))

        // Command-line values
        let output = TestSupport.temporaryDirectory("cli")
        _ = FileManager.default.createFile(atPath: output + "/a-file", contents: Data())
        let cli: [(String, [String])] = [
            ("generate --max-tokens -1", generate(base, ["--max-tokens=-1"])), ("generate --temperature -1", generate(base, ["--temperature=-1"])),
            ("generate --top-p 2", generate(base, ["--top-p", "2"])), ("generate --experts-per-token 0", generate(base, ["--experts-per-token", "0"])),
            ("generate --disable-expert 99", generate(base, ["--disable-expert", "99"])), ("generate --adaptive nan", generate(base, ["--adaptive", "nan"])),
            ("generate --expert-budget 1e300GB", generate(base, ["--expert-budget", "1e300GB"])), ("generate --no-prefetch alone", generate(base, ["--no-prefetch"])),
            ("generate prompt beyond the context", ["generate", "--model", base, String(repeating: "the ", count: 700)]),
            ("route --generate -1", ["route", "--model", base, "--generate=-1", "hi"]), ("logits --tokens a,b", ["logits", "--model", base, "--tokens", "a,b"]),
            ("calibrate --default-epsilon 0", ["calibrate", "--model", base, "--default-epsilon", "0"]),
            ("calibrate --default-epsilon nan", ["calibrate", "--model", base, "--default-epsilon", "nan"]),
            ("calibrate --default-epsilon inf", ["calibrate", "--model", base, "--default-epsilon", "inf"]),
            ("calibrate --default-epsilon -1", ["calibrate", "--model", base, "--default-epsilon=-1"]),
            ("calibrate --max-tokens 0", ["calibrate", "--model", base, "--max-tokens", "0"]),
            ("calibrate --batch 0", ["calibrate", "--model", base, "--batch", "0"]), ("calibrate --length 1", ["calibrate", "--model", base, "--length", "1"]),
            ("fixture --hidden 1000000", ["fixture", "--hidden", "1000000", "--output", output + "/big"]),
            ("fixture --hidden 12 (odd head size)", ["fixture", "--hidden", "12", "--output", output + "/odd"]),
            ("fixture --layers 0", ["fixture", "--layers", "0", "--output", output + "/zero"]),
            ("fixture --ffn-experts -1", ["fixture", "--ffn-experts=-1", "--output", output + "/neg"]),
            ("fixture --output onto a file", ["fixture", "--output", output + "/a-file"]),
            ("fixture --output under a file", ["fixture", "--output", output + "/a-file/inside"]),
            ("generate --no-mmap with --expert-budget", generate(base, ["--no-mmap", "--expert-budget", "4"])),
            ("calibrate --no-mmap", ["calibrate", "--model", base, "--no-mmap"]),
            ("calibrate --refresh-page-cache", ["calibrate", "--model", base, "--refresh-page-cache"]),
            ("generate --no-mmap with --refresh-page-cache", generate(base, ["--no-mmap", "--refresh-page-cache"])),
            ("bandwidth --megabytes beyond memory", ["bandwidth", "--megabytes", "100000000"]),
            ("bench --repeats 0", ["bench", "--repeats", "0"]),
            ("bench --paired-roofline with --quantize", ["bench", "--paired-roofline", "--quantize", "q8_0"]),
            ("bench --region-statistics with --quantize", ["bench", "--region-statistics", "--quantize", "q8_0"]),
            ("cache-bench --decode-tokens 0", ["cache-bench", "--decode-tokens", "0"]),
            ("compare --repeats 0", ["compare", "--repeats", "0"]), ("train --max-minutes -1", ["train", "--plan", "p.json", "--run", "r", "--max-minutes=-1"]),
            ("train-tokenizer --vocabulary 10", ["train-tokenizer", "--vocabulary", "10", "--output", output + "/t.json"]),
            ("unknown subcommand option", ["generate", "--model", base, "--frobnicate", "hi"]), ("no model there", generate(output + "/none")),
        ]
        for (name, arguments) in cli { cases.append(Case(kind: "CLI", name: name, arguments: arguments)) }
        return cases
    }

    /// Puts `"zzbad": value` first in the tokenizer's vocabulary, spelt exactly as given.
    static func rawVocab(_ directory: String, _ value: String) throws {
        let path = directory + "/tokenizer.json"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"vocab\":{", with: "\"vocab\":{\"zzbad\":\(value),")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: Running

    static func outcome(_ result: ChildProcess.Result) -> Outcome {
        if result.timedOut { return .hang }
        if result.status >= 128 { return .crash(result.status - 128) }
        if result.status == 0 { return .accepted }
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        guard lines.count == 1, result.stderr.hasSuffix("\n"), lines[0].hasPrefix("moepp: ") else { return .unclear(result.stderr) }
        return .clearError(String(lines[0]))
    }

    @Test("every bad input exits non-zero with one stderr line, no signal, no hang")
    func matrix() throws {
        let cases = try Self.makeCases()
        let outcomes = UnsafeMutableBufferPointer<Outcome>.allocate(capacity: cases.count)
        defer { outcomes.deallocate() }
        let executable = TestSupport.executable
        DispatchQueue.concurrentPerform(iterations: cases.count) { index in
            let result = try? ChildProcess.run([executable] + cases[index].arguments, timeout: 60)
            (outcomes.baseAddress! + index).initialize(to: result.map(Self.outcome) ?? .unclear("could not start"))
        }
        var clear = 0, crashes = 0, hangs = 0
        for (item, outcome) in zip(cases, outcomes) {
            switch outcome {
            case .clearError(let line):
                clear += 1
                // MOEPP_BAD_INPUT_VERBOSE=1 lists every case's message.
                if ProcessInfo.processInfo.environment["MOEPP_BAD_INPUT_VERBOSE"] != nil { print("[\(item.kind)] \(item.name) → \(line.prefix(300))") }
            case .crash(let signal): crashes += 1; Issue.record("\(item.name): killed by signal \(signal)")
            case .hang: hangs += 1; Issue.record("\(item.name): no answer within 60 s")
            case .accepted: Issue.record("\(item.name): accepted (exit 0)")
            case .unclear(let stderr): Issue.record("\(item.name): not one 'moepp: …' line: \(stderr.debugDescription)")
            }
        }
        var perKind: [String: Int] = [:]
        for item in cases { perKind[item.kind, default: 0] += 1 }
        let kinds = perKind.keys.sorted().map { "\($0) \(perKind[$0]!)" }.joined(separator: ", ")
        print("bad-input suite: \(cases.count) cases (\(kinds)): \(clear) clear errors, \(crashes) crashes, \(hangs) hangs")
        #expect(clear == cases.count)
    }
}
