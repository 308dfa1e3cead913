import Foundation
import Testing
@testable import MoEKit

@Suite("A/B replays of the live toggles")
struct SettingsReplayTests {
    func replay(_ b: [SettingChange], a: [SettingChange] = [], prompt: String = "the cat and the dog", tokens: Int = 12,
                calibration: Calibration? = nil) throws -> SettingsComparison {
        let generator = try Generator(directory: TestSupport.randomCheckpoint(.moepp, seed: 6))
        let config = generator.model.config
        let base = SettingsReplay.deterministic(GenerationSettings())
        var replay = SettingsReplay(prompt: prompt, maxTokens: tokens,
                                    a: try SettingChange.apply(a, to: base, config: config, calibration: calibration),
                                    b: try SettingChange.apply(b, to: base, config: config, calibration: calibration))
        replay.aSetting = SettingChange.describe(a)
        replay.bSetting = SettingChange.describe(b)
        return try replay.run(model: generator.model, tokenizer: generator.tokenizer)
    }

    /// The changes per layer counted straight from the two traces, without `SettingsComparison`:
    /// walk positions while both traces hold the same token, and at each layer compare the
    /// sorted indices of the slots that carried weight.
    func changesFromTraces(_ a: [TokenRouting], _ b: [TokenRouting]) -> (positions: Int, changed: [Int]) {
        var positions = 0
        while positions < a.count && positions < b.count && a[positions].tokenId == b[positions].tokenId { positions += 1 }
        var changed = Array(repeating: 0, count: a.first?.layers.count ?? 0)
        for p in 0..<positions {
            for l in changed.indices {
                let experts = { (routing: LayerRouting) in routing.chosen.filter { !$0.dropped }.map(\.index).sorted() }
                if experts(a[p].layers[l]) != experts(b[p].layers[l]) { changed[l] += 1 }
            }
        }
        return (positions, changed)
    }

    @Test("identical settings at temperature 0 give identical replies and zero changed choices")
    func identicalSettings() throws {
        let comparison = try replay([])
        #expect(comparison.a.tokenIds == comparison.b.tokenIds)
        #expect(!comparison.a.tokenIds.isEmpty)
        #expect(comparison.a.text == comparison.b.text)
        #expect(comparison.divergence == nil)
        #expect(comparison.comparedPositions == comparison.a.trace.count)
        #expect(comparison.layers.count == 2)
        #expect(comparison.layers.allSatisfy { $0.changed == 0 && $0.compared == comparison.comparedPositions })
        #expect(comparison.changedChoices == 0)
        #expect(comparison.a.ffnExpertsPerToken == comparison.b.ffnExpertsPerToken)
    }

    @Test("zero experts off: the reported changes are exactly those the two traces show")
    func zeroOff() throws {
        let comparison = try replay([.zero(false)])
        let (positions, changed) = changesFromTraces(comparison.a.trace, comparison.b.trace)
        #expect(comparison.comparedPositions == positions)
        #expect(comparison.layers.map(\.changed) == changed)
        #expect(comparison.changedChoices > 0, "the zero expert was chosen somewhere in A, so B must differ")
        // B never chose the zero expert; A did.
        let zero = comparison.a.trace[0].layers[0].probabilities.count - 1
        #expect(comparison.b.trace.allSatisfy { $0.layers.allSatisfy { !$0.chosen.contains { $0.index == zero } } })
        #expect(comparison.a.trace.contains { $0.layers.contains { $0.chosen.contains { $0.index == zero } } })
        #expect(comparison.b.setting == "zero=off" && !comparison.b.settings.zeroExperts && comparison.a.settings.zeroExperts)
    }

    @Test("top-k 1 diverges: the divergence index is the first differing generated token")
    func divergence() throws {
        let comparison = try replay([.topK(1)], tokens: 16)
        let a = comparison.a.tokenIds, b = comparison.b.tokenIds
        let (positions, changed) = changesFromTraces(comparison.a.trace, comparison.b.trace)
        #expect(comparison.layers.map(\.changed) == changed)
        #expect(comparison.comparedPositions == positions)
        // With top-1 every token-layer of a top-2 model changes its set.
        #expect(changed.allSatisfy { $0 == positions })
        if let d = comparison.divergence {
            #expect(a.prefix(d) == b.prefix(d))
            #expect(d == a.count || d == b.count || a[d] != b[d])
            #expect(comparison.divergencePosition == comparison.promptTokens + d)
        } else {
            #expect(a == b)
        }
        #expect(comparison.a.ffnExpertsPerToken > comparison.b.ffnExpertsPerToken)
    }

    @Test("interleaved repeats keep one rate per run and the first run's reply")
    func repeats() throws {
        let generator = try Generator(directory: TestSupport.randomCheckpoint(.moepp, seed: 6))
        var replay = SettingsReplay(prompt: "the cat", maxTokens: 4, a: GenerationSettings(), b: GenerationSettings())
        replay.repeats = 3
        var order: [String] = []
        let comparison = try replay.run(model: generator.model, tokenizer: generator.tokenizer, onProgress: { side, run in order.append("\(side)\(run)") })
        #expect(order == ["A1", "B1", "A2", "B2", "A3", "B3"])
        #expect(comparison.a.decodeRates.count == 3 && comparison.b.decodeRates.count == 3)
        #expect(comparison.a.tokenIds.count == 4)
    }

    @Test("a stop request ends the replay with ReplayStopped")
    func stopped() throws {
        let generator = try Generator(directory: TestSupport.randomCheckpoint(.moepp, seed: 6))
        let replay = SettingsReplay(prompt: "the cat", maxTokens: 8, a: GenerationSettings(), b: GenerationSettings())
        #expect(throws: ReplayStopped.self) { try replay.run(model: generator.model, tokenizer: generator.tokenizer, shouldStop: { true }) }
    }

    @Test("the setting syntax reads back its own spelling and names what is wrong")
    func syntax() throws {
        let changes = try SettingChange.parseList("zero=off, residual=off top-k=1,adaptive=0.03 disable=3 enable=3 temp=0.5 seed=7 top-p=0.9 zc=on copy=off constant=on")
        #expect(changes == [.zero(false), .residual(false), .topK(1), .adaptive(0.03), .disable(3), .enable(3), .temperature(0.5), .seed(7),
                            .topP(0.9), .zeroComputation(true), .copy(false), .constant(true)])
        #expect(try SettingChange.parseList(SettingChange.describe(changes)) == changes)
        #expect(try SettingChange.parseList("same").isEmpty && SettingChange.parseList("").isEmpty)
        #expect(try SettingChange.parseList("top-k=model") == [.topK(nil)])
        for (bad, words) in [("zero=maybe", "expected on or off"), ("top-k=0", "≥ 1"), ("frobnicate=1", "unknown setting frobnicate"),
                             ("zero", "expected key=value"), ("adaptive=-1", "positive ε"), ("disable=x", "expert number")] {
            #expect {
                try SettingChange.parseList(bad)
            } throws: { error in
                "\(error)".contains("'\(bad)'") && "\(error)".contains(words)
            }
        }
    }

    @Test("applying a setting refuses what the model cannot do")
    func applyErrors() throws {
        let config = RandomCheckpoint.tinyConfig(.moepp)
        let mixtral = RandomCheckpoint.tinyConfig(.mixtral)
        let base = GenerationSettings()
        func message(_ changes: [SettingChange], _ config: ModelConfig) -> String {
            do { _ = try SettingChange.apply(changes, to: base, config: config, calibration: nil); return "" } catch { return "\(error)" }
        }
        #expect(message([.disable(99)], config).contains("experts 0…7"))
        #expect(message([.topK(99)], config).contains("has 8 experts"))
        #expect(message([.adaptive(0.1)], config).contains("calibration.json"))
        #expect(message([.zero(false)], mixtral).contains("no zero-computation experts"))
        #expect(message((0..<8).map { .disable($0) }, config).contains("every expert is disabled"))
        let applied = try SettingChange.apply([.zeroComputation(false), .topK(2), .disable(1)], to: base, config: config, calibration: nil)
        #expect(!applied.routing.mask.zeroEnabled && !applied.routing.mask.copyEnabled && !applied.routing.mask.constantEnabled)
        #expect(applied.routing.topK == nil, "the model's own top-k is stored as nil")
        #expect(applied.routing.mask.disabledExperts == [1])
    }
}
