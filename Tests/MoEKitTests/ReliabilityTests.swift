import Foundation
import Testing
@testable import MoEKit

/// Issue 11, items 8, 9 and 11 on the engine and the command line: a prompt longer than the
/// context, a mask that leaves nothing to route, adaptive gating beyond top-2, NaN in JSON.
@Suite("Bad input: long prompts, empty masks, adaptive gating at any k, NaN in JSON", .serialized)
struct ReliabilityTests {
    /// The rule as adapmoe-spec §1 states it for top-2, kept as the oracle for k = 2.
    func specRule(_ decision: inout Gate.Decision, threshold t: Float) -> [Int] {
        guard decision.chosen.count == 2 else { return [] }
        let (w0, w1) = (decision.weights[0], decision.weights[1])
        guard w0 > 0 && w1 > 0 else { return [] }
        let weaker = w1 <= w0 ? 1 : 0
        guard decision.weights[weaker] < t else { return [] }
        decision.weights[weaker] = 0
        decision.weights[1 - weaker] = 1
        return [weaker]
    }

    @Test("adaptive gating at k = 2 is the spec's rule bit for bit (10 000 random decisions)")
    func topTwoUnchanged() {
        var random = SeededRandom(seed: 11)
        for _ in 0..<10_000 {
            let a = abs(random.normal()), b = abs(random.normal())
            // Renormalised pairs, a zero slot now and then, exact ties now and then.
            var weights: [Float] = [a / (a + b), b / (a + b)]
            if a < 0.1 { weights[1] = 0 }
            if b < 0.05 { weights = [0.5, 0.5] }
            let t = abs(random.normal()) * 0.5
            var expected = Gate.Decision(probabilities: [], chosen: [0, 1], weights: weights)
            var actual = expected
            let expectedDropped = specRule(&expected, threshold: t)
            let actualDropped = AdaptiveGate(thresholds: [t]).apply(&actual, layer: 0)
            #expect(actualDropped == expectedDropped && actual.weights == expected.weights, "w \(weights) t \(t)")
        }
    }

    @Test("beyond top-2, trailing slots are dropped while their renormalised weight is below the threshold")
    func trailingSlots() {
        func run(_ weights: [Float], _ t: Float) -> ([Int], [Float]) {
            var d = Gate.Decision(probabilities: [], chosen: Array(weights.indices), weights: weights)
            let dropped = AdaptiveGate(thresholds: [t]).apply(&d, layer: 0)
            return (dropped, d.weights)
        }
        // 0.1 < 0.2 goes; then 0.3 renormalised over {0.6, 0.3} is 1/3 ≥ 0.2 and stays.
        var (dropped, weights) = run([0.6, 0.3, 0.1], 0.2)
        #expect(dropped == [2])
        #expect(abs(weights[0] - 2.0 / 3) < 1e-6 && abs(weights[1] - 1.0 / 3) < 1e-6 && weights[2] == 0)
        // At t = 0.4 the 1/3 goes too, and the top slot takes everything.
        (dropped, weights) = run([0.6, 0.3, 0.1], 0.4)
        #expect(dropped == [2, 1] && weights == [1, 0, 0])
        // A zero-weight slot (MoE++'s zero expert) is never a candidate and never counted.
        (dropped, weights) = run([0.7, 0, 0.3], 0.35)
        #expect(dropped == [2] && weights == [1, 0, 0])
        // Top-1 has nothing to drop, and says so.
        #expect(run([1], 0.9).0.isEmpty)
        #expect(AdaptiveGate.inactiveReason(topK: 1) != nil && AdaptiveGate.inactiveReason(topK: 3) == nil)
    }

    @Test("--adaptive at top-1 is refused with the reason, not silently ignored")
    func adaptiveAtTopOne() throws {
        let directory = TestSupport.randomCheckpoint(.mixtral, seed: 3)
        let calibration = Calibration(layers: [.init(sensitivity: 1, expertDifference: 1, tokens: 1), .init(sensitivity: 1, expertDifference: 1, tokens: 1)],
                                      calibrationTokens: 2, defaultEpsilon: 0.01)
        try Calibrator.save(calibration, directory: directory)
        let result = try TestSupport.run(["generate", "--model", directory, "--adaptive", "0.1", "--experts-per-token", "1", "hi"])
        #expect(result.status != 0 && result.stderr.contains("nothing to drop at top-1"), "\(result.stderr)")
        #expect(try TestSupport.run(["generate", "--model", directory, "--adaptive", "0.1", "--experts-per-token", "3", "--max-tokens", "2", "hi"]).status == 0)
    }

    @Test("at top-3 in the model adaptive gating runs fewer FFN experts and marks every dropped slot")
    func topThreeInModel() throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(.mixtral, seed: 8))
        let tokens = Array(0..<40).map { ($0 * 37) % 270 }
        let plain = try model.forward(tokens, cache: model.makeCache(), controls: RoutingControls(topK: 3))
        let gate = AdaptiveGate(thresholds: [Float](repeating: 0.3, count: model.config.numLayers))
        let adaptive = try model.forward(tokens, cache: model.makeCache(), controls: RoutingControls(topK: 3, adaptiveGate: gate))
        let plainFFN = plain.routing.flatMap { $0 }.reduce(0) { $0 + $1.ffnExpertsComputed }
        let adaptiveFFN = adaptive.routing.flatMap { $0 }.reduce(0) { $0 + $1.ffnExpertsComputed }
        #expect(plainFFN == 40 * 2 * 3)
        #expect(adaptiveFFN < plainFFN)
        for layer in adaptive.routing.flatMap({ $0 }) {
            let dropped = layer.chosen.filter(\.dropped)
            #expect(dropped.allSatisfy { $0.weight == 0 })
            #expect(layer.ffnExpertsComputed == 3 - dropped.count)
            #expect(abs(layer.chosen.reduce(0) { $0 + $1.weight } - 1) < 1e-5)
        }
        #expect(adaptive.routing.flatMap { $0 }.contains { $0.chosen.filter(\.dropped).count == 2 }, "some tokens drop two slots")
    }

    @Test("a mask that disables every expert: the gate ignores it, the generator and the flags refuse it")
    func emptyMask() throws {
        var config = RandomCheckpoint.tinyConfig(.moepp)
        config.useLogitsNorm = false
        var mask = ExpertMask()
        mask.disabledExperts = Set(0..<config.numFFNExperts)
        mask.constantEnabled = false
        #expect(mask.allowsAny(config))
        mask.copyEnabled = false
        mask.zeroEnabled = false
        #expect(!mask.allowsAny(config))
        #expect(throws: RoutingError.noExpertEnabled) { try mask.check(config) }
        let logits: [Float] = [0.3, 2, -1, 0.5, 0, 1, 0.2, 1.5]
        let gate = Gate(config: config)
        let masked = gate.decide(logits, controls: RoutingControls(mask: mask))
        let unmasked = gate.decide(logits, controls: RoutingControls())
        #expect(masked.chosen == unmasked.chosen && masked.chosen.count == 2, "never routes nothing")
        #expect(masked.weights == unmasked.weights)

        let directory = TestSupport.randomCheckpoint(.moepp, seed: 4)
        let generator = try Generator(directory: directory)
        generator.controls.update { $0.routing.mask = mask }
        #expect(throws: RoutingError.noExpertEnabled) { try generator.generate(prompt: "the cat", maxTokens: 4) { _ in } }
        // Switched to an empty mask mid-reply: the next token refuses instead of routing nothing.
        generator.controls.update { $0.routing.mask = ExpertMask() }
        generator.reset()
        var tokens = 0
        #expect(throws: RoutingError.noExpertEnabled) {
            try generator.generate(prompt: "the cat", maxTokens: 8) { event in
                if case .token = event {
                    tokens += 1
                    generator.controls.update { $0.routing.mask = mask }
                }
            }
        }
        #expect(tokens == 1)
        let cli = try TestSupport.run(["generate", "--model", directory, "--no-zero", "--no-copy", "--no-constant",
                                       "--disable-expert", "0", "--disable-expert", "1", "--disable-expert", "2", "--disable-expert", "3", "hi"])
        #expect(cli.status != 0 && cli.stderr.contains("every expert is disabled"))
    }

    @Test("a prompt longer than the context: generate, route and logits fail with the same one line")
    func promptLongerThanContext() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 5) { $0.maxPositionEmbeddings = 16 }
        let prompt = String(repeating: "the cat and the dog ", count: 10)
        let count = try Tokenizer.load(path: directory + "/tokenizer.json").encode(prompt).count
        #expect(count > 16)
        let ids = (0..<20).map(String.init).joined(separator: ",")
        for arguments in [["generate", prompt], ["generate", "--json", prompt], ["route", prompt], ["route", "--generate", "3", prompt],
                          ["logits", "--tokens", ids]] {
            let result = try TestSupport.run([arguments[0], "--model", directory] + arguments.dropFirst())
            let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(result.status != 0, "\(arguments[0]) must fail")
            #expect(message.hasPrefix("moepp: prompt too long:") && !message.contains("\n"), "\(arguments[0]): \(message)")
            #expect(message.contains("holds 16"))
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(arguments[0]) prints nothing")
        }
        // A prompt of exactly the context can still be routed (no reply wanted) but not continued.
        let exact = (0..<16).map { String($0 % 200) }.joined(separator: ",")
        #expect(try TestSupport.run(["logits", "--model", directory, "--tokens", exact]).status == 0)
        let generator = try Generator(directory: directory)
        #expect(throws: GenerationError.self) { try generator.generate(ids: Array(0..<16), maxTokens: 1) { _ in } }
        #expect(try generator.generate(ids: Array(0..<16), maxTokens: 0) { _ in }.promptTokens == 16)
    }

    @Test("non-finite numbers in route output are JSON null, and read back as NaN")
    func nanAsNull() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 7)
        // Poison expert 0's row of layer 0's router: its logit becomes NaN.
        let path = directory + "/model.safetensors"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as! [String: Any]
        let name = try #require(header.keys.first { $0.contains("layers.0.") && $0.hasSuffix("gate.wg.weight") })
        let entry = header[name] as! [String: Any]
        let start = 8 + headerLength + (entry["data_offsets"] as! [Int])[0]
        let hidden = (entry["shape"] as! [Int])[1]
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Data($0) }
        for i in 0..<hidden { data.replaceSubrange(start + 4 * i..<start + 4 * i + 4, with: nan) }
        try data.write(to: URL(fileURLWithPath: path))

        let result = try TestSupport.run(["route", "--model", directory, "the cat"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("\"nan\"") && !result.stdout.contains("\"-inf\""))
        let lines = result.stdout.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let layer0 = ((object?["layers"] as? [[String: Any]]) ?? [])[0]
            let logits = layer0["routerLogits"] as? [Any] ?? []
            #expect(logits.first is NSNull, "expert 0's NaN logit is null: \(logits.prefix(2))")
            #expect(logits.dropFirst().allSatisfy { $0 is NSNumber })
            let record = try JSONDecoder().decode(TokenRouting.self, from: Data(line.utf8))
            #expect(record.layers[0].routerLogits[0].isNaN && record.layers[0].routerLogits[1].isFinite)
        }
    }
}
