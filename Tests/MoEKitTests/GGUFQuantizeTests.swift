import Foundation
import Testing
import TestHelpers
@testable import MoEKit

/// `GGUFWriter` and `moepp quantize` (GGUFExport): what we write, our reader and gguf-py read back,
/// and the models run as their sources do.
@Suite("GGUF writer and quantize")
struct GGUFQuantizeTests {
    @discardableResult
    static func export(_ input: String, _ type: QuantizationType, to path: String) throws -> GGUFExport.Report {
        let source = try ModelSource(path: input)
        let config = try source.config()
        let export = try GGUFExport(config: config, weights: source.weights(config: config), type: type)
        let tokenizer = try GGUFTokenizerExport.keys(source: source, config: config)
        return try export.write(to: path, name: "test", tokenizer: tokenizer?.keys ?? [])
    }

    static func logits(_ path: String, _ tokens: [Int]) throws -> (logits: [Float], routing: [[LayerRouting]]) {
        let model = try ModelSource(path: path).transformer()
        let output = try model.forward(tokens, cache: model.makeCache(), allLogits: true)
        return (output.logits, output.routing)
    }

    static func greedy(_ path: String, prompt: [Int], count: Int) throws -> [Int] {
        let model = try ModelSource(path: path).transformer()
        let cache = model.makeCache()
        var logits = try model.forward(prompt, cache: cache).logits
        var tokens: [Int] = []
        for _ in 0..<count {
            let last = Array(logits.suffix(model.config.vocabSize))
            let next = last.indices.max { last[$0] < last[$1] }!
            tokens.append(next)
            logits = try model.forward([next], cache: cache).logits
        }
        return tokens
    }

    /// max |a − b| ÷ max |b| over the whole run.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        TestSupport.maxAbsoluteDifference(a, b) / b.map(abs).max()!
    }

    static let prompt = [3, 17, 42, 5, 9, 60, 1, 33, 33, 12, 48, 7]

    // MARK: Writer

    @Test("metadata of every type, tensors of every format: our reader reads back what was written")
    func writerRoundTrip() throws {
        let path = TestSupport.temporaryDirectory() + "/all.gguf"
        let metadata: [(key: String, value: GGUFValue)] = [
            ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(65000)), ("i16", .int16(-300)), ("u32", .uint32(4_000_000_000)),
            ("i32", .int32(-70000)), ("f32", .float32(0.25)), ("bool", .bool(true)), ("string", .string("naïve 🙂")),
            ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))), ("f64", .float64(-1e-300)),
            ("strings", .strings(["a", "", "b c"])), ("empty", .array(itemType: 5, [])),
            ("nested", .array(itemType: 9, [.array(itemType: 0, [.uint8(1), .uint8(2)]), .array(itemType: 0, [])])),
        ]
        var random = SeededRandom(seed: 7)
        let shapes: [(WeightFormat, [Int])] = [(.f32, [3]), (.f16, [5, 7]), (.bf16, [2, 3, 9]), (.q8_0, [3, 64]), (.q4_0, [2, 2, 32]), (.q5_0, [3, 64]), (.q5_1, [2, 96]),
                                               (.q4_k, [3, 256]), (.q5_k, [2, 256]), (.q6_k, [2, 512])]
        var plan: [PlannedTensor] = []
        var values: [[Float]] = []
        for (i, (format, shape)) in shapes.enumerated() {
            plan.append(PlannedTensor(name: "t\(i).\(format.name)", format: format, shape: shape))
            values.append(random.normals(shape.reduce(1, *), scale: 1))
        }
        let writer = try GGUFWriter(path: path, metadata: metadata, plan: plan)
        #expect(!FileManager.default.fileExists(atPath: path), "written to .partial until finished")
        for (tensor, x) in zip(plan, values) {
            try writer.writeRows(tensor) { rows, out in
                let cols = tensor.shape.last!
                for r in rows {
                    x.withUnsafeBufferPointer {
                        GGUFExport.encode($0.baseAddress! + r * cols, count: cols, as: tensor.format, into: out + (r - rows.lowerBound) * tensor.format.bytesPerRow(cols))
                    }
                }
            }
        }
        try writer.finish()
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        do {   // a writer dropped before finish (an error mid-conversion) takes its .partial with it
            let abandoned = path + ".abandoned"
            _ = try GGUFWriter(path: abandoned, metadata: metadata, plan: plan)
            #expect(!FileManager.default.fileExists(atPath: abandoned + ".partial") && !FileManager.default.fileExists(atPath: abandoned))
        }
        let file = try GGUFFile(path: path)
        #expect(file.version == 3 && file.alignment == 32 && file.dataStart % 32 == 0)
        #expect(file.metadata.keys == ["general.alignment"] + metadata.map(\.key))
        for (key, value) in metadata { #expect(file.metadata[key] == value, "\(key)") }
        #expect(file.tensorNames == plan.map(\.name))
        for (tensor, x) in zip(plan, values) {
            let view = try #require(file.tensors[tensor.name])
            #expect(view.shape == tensor.shape && view.format == tensor.format)
            #expect(view.offset % 32 == 0)
            let back = view.floats()
            // Element formats to their rounding; blocks to their quantisers' error.
            let tolerance: Float = [.f32: 0, .f16: 1e-3, .bf16: 1e-2, .q8_0: 0.02, .q4_0: 0.3, .q5_0: 0.15, .q5_1: 0.15, .q4_k: 0.3, .q5_k: 0.15, .q6_k: 0.08][tensor.format]!
            #expect(TestSupport.maxAbsoluteDifference(back, x) <= tolerance * x.map(abs).max()!, "\(tensor.name)")
        }
    }

    @Test("the gguf Python package reads our files (skipped when python3 with gguf is absent)",
          arguments: ["mixtral", "moe++", "qwen2moe", "qwen3moe", "granitemoe", "deepseek-v2", "deepseek-v3"])
    func ggufPyReads(family: String) throws {
        let directory = TestSupport.temporaryDirectory()
        // The Qwen and Granite HF fixtures: dense layers, shared expert, biases, stacked experts.
        let input = ["mixtral", "moe++"].contains(family) ? TestSupport.randomCheckpoint(ModelFamily(rawValue: family)!)
            : TestSupport.fixture(GGUFTests.hf(family))
        let report = try Self.export(input, .q4_k_m, to: directory + "/m.gguf")
        let script = """
        import sys, gguf, numpy as np
        r = gguf.GGUFReader(sys.argv[1])
        assert r.alignment == 32, r.alignment
        for t in r.tensors:
            assert t.data_offset % 32 == 0
            x = gguf.quants.dequantize(t.data, t.tensor_type)
            assert np.isfinite(x).all()
            print(t.name, t.tensor_type.name, ",".join(str(int(d)) for d in t.shape))
        """
        let run = try ChildProcess.run(["/usr/bin/env", "python3", "-c", script, directory + "/m.gguf"])
        if run.status != 0 && (run.stderr.contains("No module named") || run.stderr.contains("No such file")) { return }
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == report.tensors.count)
        for (line, tensor) in zip(lines, report.tensors) {
            // gguf-py lists dims in ggml order (reversed).
            #expect(line == "\(tensor.name) \(tensor.used.rawValue) \(tensor.shape.reversed().map(String.init).joined(separator: ","))")
        }
    }

    // MARK: Quantize: vanilla families and MoE++

    @Test("F16 of an f16 checkpoint: logits equal the source within 1e-4 relative", arguments: ["mixtral", "olmoe", "moe++"])
    func f16MatchesSource(family: String) throws {
        let input = TestSupport.randomCheckpoint(ModelFamily(rawValue: family)!, seed: 3, dtype: .f16)
        let path = TestSupport.temporaryDirectory() + "/f16.gguf"
        try Self.export(input, .f16, to: path)
        let (ours, routing) = try Self.logits(path, Self.prompt)
        let (theirs, theirRouting) = try Self.logits(input, Self.prompt)
        #expect(Self.relativeError(ours, theirs) <= 1e-4)
        #expect(routing.map { $0.map(\.computedFFNExperts) } == theirRouting.map { $0.map(\.computedFFNExperts) })
        let config = try ModelSource(path: path).config()
        #expect(config.rotaryPairing == (family == "mixtral" ? .adjacent : .halves), "llama files carry permuted q/k rows")
    }

    @Test("HF fixtures written at F32 give transformers' logits (q/k permuted for llama and granitemoe)", arguments: GGUFTests.families)
    func hfFixturesAtF32(family: String) throws {
        struct Expected: Decodable { let tokens: [Int]; let logits: [[Float]] }
        let input = TestSupport.fixture(GGUFTests.hf(family))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: input + "/expected.json")))
        let path = TestSupport.temporaryDirectory() + "/f32.gguf"
        try Self.export(input, .f32, to: path)
        let (ours, _) = try Self.logits(path, expected.tokens)
        #expect(Self.relativeError(ours, expected.logits.flatMap { $0 }) <= 1e-4)
    }

    /// Our F16 export of an f32 HF checkpoint against the same checkpoint converted by gguf-py
    /// the way llama.cpp's converter does (make_gguf_fixtures.py): the same tensors (names, types,
    /// shapes, bytes — both round f32 to f16 to nearest even) and every `{arch}.*` key of theirs
    /// with its value. We write a few keys more (vocab_size, key/value length, rope dimensions).
    @Test("our F16 export equals llama.cpp's conversion: tensor names, types, shapes, bytes and its keys", arguments: GGUFTests.families)
    func exportEqualsConverter(family: String) throws {
        let path = TestSupport.temporaryDirectory() + "/\(family).gguf"
        try Self.export(TestSupport.fixture(GGUFTests.hf(family)), .f16, to: path)
        let (ours, theirs) = (try GGUFFile(path: path), try GGUFFile(path: GGUFTests.fixture("\(family)-f16.gguf")))
        #expect(ours.tensorNames.sorted() == theirs.tensorNames.sorted())
        for name in theirs.tensorNames {
            guard let a = ours.tensors[name], let b = theirs.tensors[name] else { continue }
            #expect(a.format == b.format && a.shape == b.shape, "\(name): \(a.format) \(a.shape) vs \(b.format) \(b.shape)")
            let bytes = a.format.byteCount(shape: a.shape)
            #expect(a.format == b.format && a.shape == b.shape && memcmp(a.base, b.base, bytes) == 0, "\(name) bytes")
        }
        let arch = try theirs.metadata.string("general.architecture")
        #expect(try ours.metadata.string("general.architecture") == arch)
        for key in theirs.metadata.keys where key.hasPrefix(arch + ".") {
            #expect(ours.metadata[key] == theirs.metadata[key], "\(key): \(String(describing: ours.metadata[key])) vs \(String(describing: theirs.metadata[key]))")
        }
    }

    @Test("MoE++ with a two-layer router and without logits norm round-trips its keys")
    func moeppVariants() throws {
        let input = TestSupport.randomCheckpoint(.moepp, seed: 5, dtype: .f16) {
            $0.twoLayerGate = true
            $0.useLogitsNorm = false
            $0.gateNormStd = 0.5
        }
        let path = TestSupport.temporaryDirectory() + "/two.gguf"
        try Self.export(input, .f16, to: path)
        let config = try ModelSource(path: path).config()
        let original = try ModelSource(path: input).config()
        #expect(config.twoLayerGate && !config.useLogitsNorm && config.gateNormStd == 0.5)
        #expect(config.numExperts == original.numExperts && config.numFFNExperts == original.numFFNExperts)
        #expect(config.multiplyInputByTopK == original.multiplyInputByTopK && config.useMixtralGating == original.useMixtralGating)
        #expect(Self.relativeError(try Self.logits(path, Self.prompt).logits, try Self.logits(input, Self.prompt).logits) <= 1e-4)
    }

    static func shipped(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Assets/models/\(name)").path
    }

    /// Whether `ours` picks `theirs`'s top token, or `theirs`'s top two are so close that our
    /// largest logit difference at this position could swap them: a perturbation of at most e per
    /// logit can only change the argmax where the top two differ by less than 2e.
    static func sameChoiceOrNearTie(_ ours: ArraySlice<Float>, _ theirs: ArraySlice<Float>) -> Bool {
        let (a, b) = (Array(ours), Array(theirs))
        let top = b.indices.max { b[$0] < b[$1] }!
        if a.indices.max(by: { a[$0] < a[$1] })! == top { return true }
        let runnerUp = b.indices.filter { $0 != top }.map { b[$0] }.max()!
        return b[top] - runnerUp < 2 * TestSupport.maxAbsoluteDifference(a, b)
    }

    /// Q8_0 against the F16 file on the shipped trained checkpoints (Mixtral with 8 experts, MoE++
    /// with 12 slots). Relative error seen (max |Δlogit| ÷ max |logit| over the prompt): Mixtral
    /// 1.3–1.9 %, MoE++ 1.1–4.3 %; asserted at 6 %. Greedy choices are held teacher-forced along
    /// the F16 run's 32 greedy tokens: Q8_0 picks the same token at every position except where
    /// F16's top two are closer than the logit noise (seen: 30/32 and 31/32; the misses had
    /// margins of 0.002–0.02 logits). Free-running greedy text is not held since the prompt's
    /// activations are quantised as decoding's are: moepp-tiny's first token after the prompt's
    /// newline is such a tie (margin 0.0017), and one different token changes the rest.
    /// (q8TrainedGreedy holds free-running greedy text on the trained Mixtral and OLMoE fixtures.)
    @Test("Q8_0 of the trained tiny models: logits within 6 % of the F16 run, F16's greedy choices kept but for near-ties", arguments: ["moe-tiny", "moepp-tiny"])
    func q8MatchesF16(name: String) throws {
        let input = Self.shipped(name)
        let directory = TestSupport.temporaryDirectory()
        try Self.export(input, .f16, to: directory + "/f16.gguf")
        let report = try Self.export(input, .q8_0, to: directory + "/q8.gguf")
        #expect(report.fallbacks.isEmpty && report.tensors.contains { $0.used == .q8_0 })
        let prompt = try ModelSource(path: directory + "/q8.gguf").tokenizer().encode("Once upon a time, there was a little")
        let error = Self.relativeError(try Self.logits(directory + "/q8.gguf", prompt).logits, try Self.logits(directory + "/f16.gguf", prompt).logits)
        let sequence = prompt + (try Self.greedy(directory + "/f16.gguf", prompt: prompt, count: 32))
        let (q8, f16) = (try Self.logits(directory + "/q8.gguf", sequence).logits, try Self.logits(directory + "/f16.gguf", sequence).logits)
        let v = q8.count / sequence.count
        var same = 0
        for t in prompt.count - 1..<sequence.count - 1 {
            let (ours, theirs) = (q8[t * v..<(t + 1) * v], f16[t * v..<(t + 1) * v])
            if ours.indices.max(by: { ours[$0] < ours[$1] }) == theirs.indices.max(by: { theirs[$0] < theirs[$1] }) { same += 1 }
            #expect(Self.sameChoiceOrNearTie(ours, theirs), "\(name) position \(t)")
        }
        print("\(name) Q8_0 vs F16: max |Δlogit| / max |logit| = \(error); F16's greedy choice kept at \(same)/32 positions")
        #expect(error <= 0.06)
        #expect(same >= 28, "\(name): \(same)/32")
    }

    /// Q8_0 (moepp's quantiser, from the F16 file) of the trained Mixtral and OLMoE, whose logits
    /// are peaked as a real model's are on text it knows: free-running greedy text is held, for 32
    /// tokens, to the F16 file's and to transformers'. Why it is stable rather than lucky: at
    /// every position along F16's greedy path its top two logits are further apart than twice the
    /// largest Q8_0 − F16 logit difference there, so Q8_0 makes the same choice at every step and
    /// hence decodes the same path. Seen over the 32 decoding positions: smallest F16 top-two
    /// margin 5.94 (Mixtral) and 6.54 (OLMoE) logits, largest |Δlogit| 0.061 and 0.083 (about a
    /// hundredth of the margin); max |Δlogit| ÷ max |logit| over prompt and path 0.57 % and 0.72 %,
    /// asserted at 2 %. The fixtures' training (seed 0, 400 steps) is the first and only setting
    /// tried: no seed or length was searched for these margins.
    @Test("trained Mixtral/OLMoE at Q8_0: logits within 2 % of F16; 32 greedy tokens equal F16's and transformers'; margins exceed twice the noise",
          arguments: GGUFTests.trained)
    func q8TrainedGreedy(name: String) throws {
        let expected = try GGUFTests.trainedExpected(name)
        let f16 = GGUFTests.fixture(name), q8 = TestSupport.temporaryDirectory() + "/q8.gguf"
        let report = try Self.export(f16, .q8_0, to: q8)
        #expect(report.fallbacks.isEmpty)
        #expect(report.tensors.filter { $0.shape.count > 1 && !$0.name.hasSuffix("ffn_gate_inp.weight") }.allSatisfy { $0.used == .q8_0 },
                "every matrix but the router in Q8_0")
        let sequence = expected.sequence
        let (ours, theirs) = (try Self.logits(q8, sequence).logits, try Self.logits(f16, sequence).logits)
        let v = theirs.count / sequence.count
        var smallestMargin = Float.infinity, largestChange: Float = 0
        for t in expected.tokens.count - 1..<sequence.count {
            let row = theirs[t * v..<(t + 1) * v].sorted(by: >)
            smallestMargin = min(smallestMargin, row[0] - row[1])
            largestChange = max(largestChange, TestSupport.maxAbsoluteDifference(Array(ours[t * v..<(t + 1) * v]), Array(theirs[t * v..<(t + 1) * v])))
        }
        let error = Self.relativeError(ours, theirs)
        print("\(name) Q8_0 vs F16: smallest F16 top-1/top-2 margin along the greedy path \(smallestMargin), largest |Δlogit| \(largestChange), max |Δlogit| / max |logit| \(error)")
        #expect(smallestMargin > 2 * largestChange)
        #expect(error <= 0.02)
        let greedyF16 = try Self.greedy(f16, prompt: expected.tokens, count: expected.generated.count)
        #expect(greedyF16 == expected.generated)
        #expect(try Self.greedy(q8, prompt: expected.tokens, count: expected.generated.count) == greedyF16)
    }

    /// Random tiny models (hidden 32) have flat logits: Q8_0 noise flips routing and greedy
    /// choices there, so only the logits are held, loosely; q8TrainedGreedy holds greedy text on
    /// Mixtral and OLMoE trained for it.
    @Test("Q8_0 of random tiny models: logits within 10 % of the F16 run at the first positions", arguments: ["mixtral", "olmoe", "moe++"])
    func q8RandomModels(family: String) throws {
        let input = TestSupport.randomCheckpoint(ModelFamily(rawValue: family)!, seed: 3, dtype: .f16)
        let directory = TestSupport.temporaryDirectory()
        try Self.export(input, .f16, to: directory + "/f16.gguf")
        try Self.export(input, .q8_0, to: directory + "/q8.gguf")
        let prompt = Array(Self.prompt.prefix(4))
        let error = Self.relativeError(try Self.logits(directory + "/q8.gguf", prompt).logits, try Self.logits(directory + "/f16.gguf", prompt).logits)
        print("\(family) (random) Q8_0 vs F16 over \(prompt.count) positions: \(error)")
        #expect(error <= 0.1)
    }

    /// DeepSeek (`deepseek2`): MLA's kv_b_proj split into attn_k_b (transposed per head) and
    /// attn_v_b on the way out; at Q8_0 the tiny fixtures' odd rows (nope 8, widths 16 and 24)
    /// fall back to F16, the rest is Q8_0. The greedy token at every prompt position is
    /// transformers' own, except where transformers' top two are closer than our logit noise there
    /// (seen: one position each in V2 and V3 and V2 greedy, margins 0.011–0.068 on logits of
    /// ±2.4–3.6, since the prompt's activations are quantised as decoding's are). (Free-running
    /// greedy text is not held: these random models' logits are flat, and Q8_0 noise changes a
    /// choice after 4–8 tokens, while the F16 file keeps all 32; q8TrainedGreedy holds it on
    /// trained models.)
    @Test("DeepSeek-V2/V3 at Q8_0: deepseek2 file, greedy token at every prompt position equals transformers' but for near-ties", arguments: GGUFTests.deepSeeks)
    func deepSeekQ8(family: String) throws {
        struct Expected: Decodable { let tokens: [Int]; let logits: [[Float]] }
        let input = TestSupport.fixture(GGUFTests.hf(family))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: input + "/expected.json")))
        let path = TestSupport.temporaryDirectory() + "/q8.gguf"
        let report = try Self.export(input, .q8_0, to: path)
        #expect(report.tensors.contains { $0.used == .q8_0 && $0.name.hasSuffix("ffn_gate_exps.weight") })
        #expect(try GGUFFile(path: path).metadata.string("general.architecture") == "deepseek2")
        let (ours, _) = try Self.logits(path, expected.tokens)
        let v = expected.logits[0].count
        func argmax(_ x: ArraySlice<Float>) -> Int { x.indices.max { x[$0] < x[$1] }! - x.startIndex }
        var same = 0
        for (t, theirs) in expected.logits.enumerated() {
            if argmax(ours[t * v..<(t + 1) * v]) == argmax(theirs[...]) { same += 1 }
            #expect(Self.sameChoiceOrNearTie(ours[t * v..<(t + 1) * v], theirs[...]), "\(family) position \(t)")
        }
        #expect(same >= expected.logits.count - 1, "\(family): \(same)/\(expected.logits.count)")
        // Seen: max |Δlogit| ÷ max |logit| 2 % (V2 greedy), 7 % (V2), 34 % (V3, whose sigmoid
        // choice flips near-tied experts, × routed scaling 2.5): logged, not held.
        print("\(family) Q8_0 vs transformers: max |Δlogit| / max |logit| = \(Self.relativeError(ours, expected.logits.flatMap { $0 }))")
    }

    @Test("our q4_k_m equals llama-quantize's Q4_K_M byte for byte: Q5_0 and Q5_1 fallbacks, per-tensor types",
          arguments: ["deepseek-v2-greedy", "deepseek-v3", "olmoe", "mixtral", "qwen2moe"])
    func q4KMEqualsLlamaCpp(name: String) throws {
        let path = TestSupport.temporaryDirectory() + "/\(name).gguf"
        try Self.export(GGUFTests.fixture("\(name)-f32.gguf"), .q4_k_m, to: path)
        let (ours, theirs) = (try GGUFFile(path: path), try GGUFFile(path: GGUFTests.fixture("\(name)-q4km-llamacpp.gguf")))
        #expect(ours.tensorNames.sorted() == theirs.tensorNames.sorted())
        #expect(theirs.tensors.values.contains { $0.format == .q5_0 }, "the fixture exercises the Q5_0 fallback")
        if name == "qwen2moe" { #expect(theirs.tensors.values.contains { $0.format == .q5_1 }, "the fixture exercises the Q5_1 fallback") }
        for name in theirs.tensorNames {
            guard let a = ours.tensors[name], let b = theirs.tensors[name] else { continue }
            // One known difference, in the shape only: llama-quantize writes Qwen's shared-expert
            // gate as [d] where its converter (and moepp, tested against it) writes [1, d].
            let sameShape = a.shape == b.shape || (name.hasSuffix(".ffn_gate_inp_shexp.weight") && a.shape == [1] + b.shape)
            let same = a.format == b.format && sameShape && memcmp(a.base, b.base, a.format.byteCount(shape: a.shape)) == 0
            #expect(same, "\(name): \(a.format) \(a.shape) vs llama.cpp's \(b.format) \(b.shape)")
        }
    }

    /// The V2 fixture (its `greedy` variant): 4- and 5-bit weights move this tiny random model's
    /// logits by ~19 % of their range (printed); each position keeps transformers' choice unless
    /// its top two are closer than twice the largest logit change there (seen: 4 of its positions
    /// are such near-ties and flip). V3's sigmoid routing flips near-tied experts under that much
    /// noise (86 %), so it is held to the byte comparison above only.
    @Test("llama.cpp's own Q4_K_M of DeepSeek-V2 (Q5_0 experts) runs: transformers' greedy token at every prompt position but for near-ties")
    func llamaCppQ4KMDeepSeek() throws {
        struct Expected: Decodable { let tokens: [Int]; let logits: [[Float]] }
        let name = "deepseek-v2-greedy"
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture(GGUFTests.hf(name)) + "/expected.json")))
        let (ours, _) = try Self.logits(GGUFTests.fixture("\(name)-q4km-llamacpp.gguf"), expected.tokens)
        let v = expected.logits[0].count
        for (t, theirs) in expected.logits.enumerated() {
            #expect(Self.sameChoiceOrNearTie(ours[t * v..<(t + 1) * v], theirs[...]), "\(name) position \(t)")
        }
        print("\(name) llama.cpp Q4_K_M vs transformers: max |Δlogit| / max |logit| = \(Self.relativeError(ours, expected.logits.flatMap { $0 }))")
    }

    /// A deepseek2 GGUF as the source: attn_k_b / attn_v_b (or the whole attn_kv_b of older files)
    /// are read and written again without a Hugging Face kv_b_proj in between.
    @Test("deepseek2 GGUF quantised again to F16: the converter's bytes back; the split file decodes transformers' 32 greedy tokens",
          arguments: ["deepseek-v3-f16.gguf", "deepseek-v3-kvb-f32.gguf"])
    func requantizeDeepSeek(name: String) throws {
        struct Expected: Decodable { let tokens: [Int]; let generated: [Int] }
        let path = TestSupport.temporaryDirectory() + "/f16.gguf"
        try Self.export(GGUFTests.fixture(name), .f16, to: path)
        let (ours, converted) = (try GGUFFile(path: path), try GGUFFile(path: GGUFTests.fixture("deepseek-v3-f16.gguf")))
        #expect(ours.tensorNames.sorted() == converted.tensorNames.sorted())
        for name in converted.tensorNames {
            guard let a = ours.tensors[name], let b = converted.tensors[name] else { continue }
            #expect(a.format == b.format && a.shape == b.shape && memcmp(a.base, b.base, a.format.byteCount(shape: a.shape)) == 0, "\(name)")
        }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("hf-deepseek-v3/expected.json"))))
        #expect(try Self.greedy(path, prompt: expected.tokens, count: expected.generated.count) == expected.generated)
    }

    @Test("MoE++ at Q8_0 routes the same experts as the original for ≥ 95 % of token-layers", arguments: ["trained", "random"])
    func moeppRoutingAgreement(model: String) throws {
        let input = model == "trained" ? Self.shipped("moepp-tiny") : TestSupport.randomCheckpoint(.moepp, seed: 11)
        let path = TestSupport.temporaryDirectory() + "/q8.gguf"
        try Self.export(input, .q8_0, to: path)
        let config = try ModelSource(path: input).config()
        var random = SeededRandom(seed: 4)
        let tokens = model == "trained"
            ? try Tokenizer.load(directory: input).encode("The little dog ran to the park. She saw a big red ball and wanted to play with it, but")
            : (0..<64).map { _ in Int(random.next() % UInt64(config.vocabSize)) }
        let ours = try Self.logits(path, tokens).routing
        let theirs = try Self.logits(input, tokens).routing
        var same = 0, total = 0
        for (a, b) in zip(ours, theirs) {
            for (x, y) in zip(a, b) {
                total += 1
                if Set(x.chosen.map(\.index)) == Set(y.chosen.map(\.index)) { same += 1 }
            }
        }
        print("MoE++ (\(model)) Q8_0 routing agreement: \(same)/\(total) token-layers")
        #expect(total == tokens.count * config.numLayers)
        #expect(Double(same) >= 0.95 * Double(total))
    }

    @Test("a GGUF quantised again: the llama fixture to Q8_0 keeps its tokenizer and runs close; to F16 its bytes")
    func requantizeGGUF() throws {
        let input = GGUFTests.fixture("mixtral-f16.gguf")
        let directory = TestSupport.temporaryDirectory()
        try Self.export(input, .q8_0, to: directory + "/q8.gguf")
        try Self.export(input, .f16, to: directory + "/f16.gguf")
        let original = try GGUFFile(path: input), again = try GGUFFile(path: directory + "/f16.gguf")
        for name in original.tensorNames {
            let (a, b) = (original.tensors[name]!, try #require(again.tensors[name], "\(name)"))
            #expect(a.shape == b.shape && a.format == b.format, "\(name)")
            #expect(memcmp(a.base, b.base, a.byteCount) == 0, "\(name): copied, not permuted twice")
        }
        #expect(Self.relativeError(try Self.logits(directory + "/q8.gguf", Self.prompt).logits, try Self.logits(input, Self.prompt).logits) <= 0.05)
        let tokenizer = try ModelSource(path: directory + "/q8.gguf").tokenizer()
        for item in try GGUFTests.expectedIds()["mixtral-f16.gguf"]! { #expect(tokenizer.encode(item.text) == item.ids) }
    }

    // MARK: Tokenizers

    @Test("a byte-level tokenizer.json becomes gpt2 keys that encode alike")
    func gpt2Tokenizer() throws {
        let input = TestSupport.randomCheckpoint(.olmoe)
        let path = TestSupport.temporaryDirectory() + "/q8.gguf"
        try Self.export(input, .q8_0, to: path)
        let ours = try ModelSource(path: path).tokenizer(), theirs = try Tokenizer.load(directory: input)
        let text = "the cat and <|endoftext|> sat on the mat, and then 12 naïve 🙂"
        #expect(ours.encode(text) == theirs.encode(text))
        #expect(ours.decode(theirs.encode("the cat sat, naïve 🙂")) == "the cat sat, naïve 🙂")
        #expect(try GGUFFile(path: path).metadata.string("tokenizer.ggml.pre") == "olmo")
    }

    @Test("a SentencePiece tokenizer.model becomes llama keys that encode alike")
    func sentencePieceTokenizer() throws {
        let directory = TestSupport.fixture("sentencepiece-bpe")
        let theirs = try Tokenizer.load(directory: directory)
        let config = ModelConfig(family: .mixtral, vocabSize: theirs.vocabularySize + 3, hiddenSize: 8, intermediateSize: 8,
                                 numLayers: 1, numHeads: 2, numKeyValueHeads: 2, numExperts: 2)
        let model = try SentencePieceModel(protobuf: Array(Data(contentsOf: URL(fileURLWithPath: directory + "/tokenizer.model"))))
        let keys = GGUFTokenizerExport.llama(model, settings: TokenizerConfig(), config: config)
        let path = TestSupport.temporaryDirectory() + "/vocab.gguf"
        let writer = try GGUFWriter(path: path, metadata: keys, plan: [])
        try writer.finish()
        let file = try GGUFFile(path: path)
        let ours = try Tokenizer.load(gguf: file.metadata)
        #expect(try file.metadata.strings("tokenizer.ggml.tokens")?.count == theirs.vocabularySize + 3, "padded to the model's vocabulary")
        #expect(ours.encode(GGUFTests.variedText) == theirs.encode(GGUFTests.variedText))
        #expect(ours.bosTokenId == theirs.bosTokenId && ours.eosTokenId == theirs.eosTokenId && ours.prefixTokenId == theirs.prefixTokenId)
    }

    // MARK: Formats

    @Test("q4_k_m: Q6_K for output and for attn_v/ffn_down in llama.cpp's use_more_bits layers, 8-expert bumps (Q8_0 attn_v/attn_k, Q5_K attn_output); fallbacks for odd rows")
    func q4KMRule() throws {
        var config = RandomCheckpoint.tinyConfig(.mixtral, hidden: 256, layers: 8, ffnExperts: 2, intermediate: 256)
        config.tieWordEmbeddings = false
        #expect((0..<8).filter { GGUFExport.usesMoreBits(layer: $0, layers: 8) } == [0, 3, 6, 7])
        #expect((0..<32).filter { GGUFExport.usesMoreBits(layer: $0, layers: 32) } == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        let input = TestSupport.temporaryDirectory()
        try RandomCheckpoint.write(config: config, to: input, seed: 1, dtype: .bf16)
        let report = try Self.export(input, .q4_k_m, to: TestSupport.temporaryDirectory() + "/m.gguf")
        let used = Dictionary(uniqueKeysWithValues: report.tensors.map { ($0.name, $0.used) })
        #expect(used["output.weight"] == .q6_k && used["token_embd.weight"] == .q4_k)
        for l in 0..<8 {
            let more = [0, 3, 6, 7].contains(l)
            #expect(used["blk.\(l).attn_v.weight"] == (more ? .q6_k : .q4_k))
            #expect(used["blk.\(l).ffn_down_exps.weight"] == (more ? .q6_k : .q4_k))
            #expect(used["blk.\(l).attn_q.weight"] == .q4_k && used["blk.\(l).ffn_gate_exps.weight"] == .q4_k)
            #expect(used["blk.\(l).ffn_gate_inp.weight"] == .f32 && used["blk.\(l).attn_norm.weight"] == .f32)
        }
        #expect(report.fallbacks.isEmpty)
        // Rows of 32 (the tiny default): Q4_K → Q5_0, Q6_K → Q8_0 (llama.cpp's fallbacks); rows of 48 (HF fixture's experts): → F16.
        let tiny = try Self.export(TestSupport.randomCheckpoint(.mixtral), .q4_k_m, to: TestSupport.temporaryDirectory() + "/t.gguf")
        let output = try #require(tiny.tensors.first { $0.name == "output.weight" })
        #expect(output.wanted == .q6_k && output.used == .q8_0)
        #expect(tiny.tensors.first { $0.name == "blk.0.attn_q.weight" }?.used == .q5_0)
        let hf = try Self.export(TestSupport.fixture("hf-mixtral"), .q8_0, to: TestSupport.temporaryDirectory() + "/h.gguf")
        #expect(hf.tensors.first { $0.name == "blk.0.ffn_down_exps.weight" }?.used == .f16)
        // Exactly 8 experts: llama.cpp's bumps — attn_v and attn_k Q8_0, attn_output Q5_K.
        var eight = RandomCheckpoint.tinyConfig(.mixtral, hidden: 256, layers: 2, ffnExperts: 8, intermediate: 256)
        eight.tieWordEmbeddings = false
        let eightInput = TestSupport.temporaryDirectory()
        try RandomCheckpoint.write(config: eight, to: eightInput, seed: 2, dtype: .bf16)
        let bumped = Dictionary(uniqueKeysWithValues: try Self.export(eightInput, .q4_k_m, to: TestSupport.temporaryDirectory() + "/e.gguf")
            .tensors.map { ($0.name, $0.used) })
        // Every ffn_down of a bumped layer, as llama.cpp's "ffn_down" category: shared experts'
        // and a dense layer's too (names only: this Mixtral has neither).
        let rules = try GGUFExport(config: config, weights: ModelSource(path: input).weights(config: config), type: .q4_k_m)
        for (name, layer) in [("blk.3.ffn_down_shexp.weight", 3), ("blk.0.ffn_down.weight", 0), ("blk.2.ffn_down_shexp.weight", 2)] {
            let wanted = rules.format(for: GGUFExport.Tensor(name: name, shape: [256, 256], parts: [], keepF32: false, layer: layer)).wanted
            #expect(wanted == (layer == 2 ? .q4_k : .q6_k), "\(name)")
        }
        // Q5_K rows that are not whole 256-blocks take Q5_1, as llama.cpp's do.
        let eightRules = try GGUFExport(config: eight, weights: ModelSource(path: eightInput).weights(config: eight), type: .q4_k_m)
        let narrow = eightRules.format(for: GGUFExport.Tensor(name: "blk.0.attn_output.weight", shape: [256, 96], parts: [], keepF32: false, layer: 0))
        #expect(narrow.wanted == .q5_k && narrow.used == .q5_1)
        // q5_k_m: the same rules over Q5_K.
        let five = Dictionary(uniqueKeysWithValues: try Self.export(input, .q5_k_m, to: TestSupport.temporaryDirectory() + "/f.gguf").tensors.map { ($0.name, $0.used) })
        #expect(five["output.weight"] == .q6_k && five["blk.3.ffn_down_exps.weight"] == .q6_k && five["blk.2.ffn_down_exps.weight"] == .q5_k)
        #expect(five["blk.3.attn_v.weight"] == .q6_k && five["blk.2.attn_v.weight"] == .q5_k && five["blk.2.attn_q.weight"] == .q5_k)
        for l in 0..<2 {
            #expect(bumped["blk.\(l).attn_output.weight"] == .q5_k)
            #expect(bumped["blk.\(l).attn_v.weight"] == .q8_0 && bumped["blk.\(l).attn_k.weight"] == .q8_0)
            #expect(bumped["blk.\(l).attn_q.weight"] == .q4_k)
        }
    }

    @Test("the Q6_K quantiser: values within 1.5 steps, RMS error under 3 % of the values' RMS")
    func q6KQuantizer() {
        var random = SeededRandom(seed: 9)
        let x = random.normals(512, scale: 2) + [Float](repeating: 0, count: 256)
        let bytes = [UInt8](unsafeUninitializedCapacity: 3 * BlockQ6_K.bytes) { buffer, count in
            x.withUnsafeBufferPointer { quantizeBlocks($0.baseAddress!, count: x.count, as: .q6_k, into: buffer.baseAddress!) }
            count = 3 * BlockQ6_K.bytes
        }
        var back = [Float](repeating: 0, count: x.count)
        bytes.withUnsafeBytes { raw in
            back.withUnsafeMutableBufferPointer { out in
                for b in 0..<3 { BlockQ6_K.dequantize(raw.baseAddress! + b * BlockQ6_K.bytes, into: out.baseAddress! + b * 256) }
            }
        }
        bytes.withUnsafeBytes { raw in
            for i in 0..<x.count {
                let block = raw.baseAddress! + i / 256 * BlockQ6_K.bytes
                let step = abs(loadHalf(block, BlockQ6_K.scaleOffset) * Float(block.load(fromByteOffset: BlockQ6_K.scalesOffset + i % 256 / 16, as: Int8.self)))
                // Half a step, or 1.5 steps where the opposite sign of a sub-block's extreme reaches
                // +32 (the range is −32…31) or the int8 scale's rounding pushes past it.
                #expect(abs(back[i] - x[i]) <= 1.5 * step + 1e-6, "element \(i)")
            }
        }
        #expect(back[512...].allSatisfy { $0 == 0 }, "an all-zero block stays zero")
        let rms = { (v: ArraySlice<Float>) in (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot() }
        let error = zip(back[..<512], x[..<512]).map { $0 - $1 }
        #expect(rms(error[...]) <= 0.03 * rms(x[..<512]))
    }

    // MARK: Expert cache

    /// The store reads an expert's bytes in its own format: a slot is the expert's Q8_0 bytes, and
    /// the cached model computes exactly what the mapped one does.
    @Test("--expert-budget on a Q8_0 GGUF: slots hold Q8_0 bytes, outputs bit-identical to the mapped file", arguments: [ModelFamily.moepp, .mixtral])
    func expertCacheOnQ8(family: ModelFamily) throws {
        let input = TestSupport.randomCheckpoint(family, seed: 21, dtype: .f16) { config in
            config = RandomCheckpoint.tinyConfig(family, hidden: 32, layers: 3, ffnExperts: 6, intermediate: 64)
        }
        let path = TestSupport.temporaryDirectory() + "/q8.gguf"
        let report = try Self.export(input, .q8_0, to: path)
        #expect(report.fallbacks.isEmpty)
        func run(_ model: Transformer) throws -> [[Float]] {
            let cache = model.makeCache()
            var tokens = [3, 14, 15, 9, 2, 6, 5, 35]
            var all: [[Float]] = []
            for step in 0...12 {
                let output = try model.forward(step == 0 ? tokens : [tokens.last!], cache: cache)
                all.append(output.logits)
                tokens.append(output.logits.indices.max { output.logits[$0] < output.logits[$1] }!)
            }
            return all
        }
        let reference = try run(try ModelSource(path: path).transformer())
        for slots in [2, 5, 18] {
            // As the CLI loads for a cache: routed experts as stored (the store interleaves its slots).
            let model = try ModelSource(path: path).transformer(interleaving: .allButRoutedExperts)
            let cache = try ExpertCacheSetup.install(on: model, directory: path, budget: .slots(slots), policy: .lru, prefetch: false)
            // Gate, up and down of hidden 32 × inner 64 in Q8_0: 3 · 64·32/32 · 34 bytes (each part aligned).
            #expect(cache.store.byteCount(layer: 0, expert: 0) == 3 * 64 * 34)
            #expect(try run(model) == reference, "\(slots) slots")
            let statistics = cache.statistics.reduce(LayerCacheStatistics(), +)
            if slots < 18 { #expect(statistics.misses > 0) }
        }
    }

    // MARK: Command line

    @Test("moepp quantize: bad arguments are one-line errors; OUT is not replaced without --force")
    func commandLine() throws {
        let input = TestSupport.randomCheckpoint(.mixtral)
        let out = TestSupport.temporaryDirectory() + "/m.gguf"
        let first = try TestSupport.run(["quantize", "--type", "q8_0", input, out])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("wrote") && first.stdout.contains("gpt2"))
        for (arguments, message) in [
            (["quantize", "--type", "q8_0", input, out], "exists (pass --force"),
            (["quantize", "--type", "q3_k", input, out + "x.gguf"], "--type: expected one of"),
            (["quantize", "--type", "q8_0", input, out + ".bin"], "must end in .gguf"),
            (["quantize", "--type", "q8_0", input + "/missing", out + "2.gguf"], "no such model"),
            (["quantize", "--type", "q8_0", "--force", out, out], "is the input itself"),
            (["quantize", "--type", "q8_0", input, "/nonexistent-dir/m.gguf"], "cannot write in"),
        ] {
            let run = try TestSupport.run(arguments)
            #expect(run.status != 0)
            #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
        let forced = try TestSupport.run(["quantize", "--type", "f16", "--force", input, out])
        #expect(forced.status == 0)
        #expect(try GGUFFile(path: out).tensors["blk.0.attn_q.weight"]?.format == .f16)
    }
}
