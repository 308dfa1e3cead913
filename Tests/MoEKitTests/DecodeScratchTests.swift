import Foundation
import Testing
@testable import MoEKit

@Suite("Decode scratch: one kept set of buffers and records for every decoded token")
struct DecodeScratchTests {
    /// A layer's records as JSON: every field, floats written to round-trip exactly.
    static func encoded(_ layers: [LayerRouting]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(layers)
    }

    /// Random MoE++, Mixtral and OLMoE checkpoints, and the transformers-made fixtures of the other
    /// families (shared experts, dense layers, grouped and sigmoid gates, latent attention, shortcut MoE).
    static let models = ["moepp", "mixtral", "olmoe"] + FamilyTests.withLatentAttention

    static func directory(_ name: String) -> String {
        switch name {
        case "moepp": return TestSupport.randomCheckpoint(.moepp, seed: 5)
        case "mixtral": return TestSupport.randomCheckpoint(.mixtral, seed: 5)
        case "olmoe": return TestSupport.randomCheckpoint(.olmoe, seed: 5)
        default: return TestSupport.fixture(name)
        }
    }

    @Test("decoding into one kept scratch gives, token by token, the logits and records of a fresh pass", arguments: models)
    func keptScratchEqualsFreshPasses(name: String) throws {
        let model = try Transformer(directory: Self.directory(name))
        let family = name
        let prompt = [12, 20, 45, 3]
        let (kept, fresh) = (model.makeCache(), model.makeCache())
        var logits = try model.forward(prompt, cache: kept).logits
        _ = try model.forward(prompt, cache: fresh)
        let step = DecodeScratch(config: model.config, tokens: 1)
        for _ in 0..<12 {
            let next = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
            try model.decode(next, cache: kept, scratch: step)
            let reference = try model.forward([next], cache: fresh)
            #expect(step.logits.map(\.bitPattern) == reference.logits.map(\.bitPattern), "\(family)")
            #expect(try Self.encoded(step.routing[0]) == Self.encoded(reference.routing[0]), "\(family)")
            logits = reference.logits
        }
        #expect(kept.length == fresh.length)
    }

    @Test("kept-scratch decoding equals a full recompute of the sequence (chosen experts; logits to 1e-4)")
    func keptScratchEqualsFullRecompute() throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(.moepp, seed: 3))
        let tokens = [12, 200, 45, 3, 99, 150, 7, 7, 260, 31, 18]
        let full = try model.forward(tokens, cache: model.makeCache(), allLogits: true)
        let cache = model.makeCache()
        let vocabulary = model.config.vocabSize
        _ = try model.forward(Array(tokens[0..<4]), cache: cache)
        let step = DecodeScratch(config: model.config, tokens: 1)
        for t in 4..<tokens.count {
            try model.decode(tokens[t], cache: cache, scratch: step)
            #expect(TestSupport.close(step.logits, Array(full.logits[t * vocabulary..<(t + 1) * vocabulary]), relative: 1e-4), "position \(t)")
            #expect(step.routing[0].map { $0.chosen.map(\.index) } == full.routing[t].map { $0.chosen.map(\.index) })
            #expect(step.routing[0].map(\.routerLogits).allSatisfy { !$0.isEmpty })
        }
    }

    @Test("records an observer keeps stay as they were while later tokens overwrite the generator's own")
    func keptRecordsDoNotChange() throws {
        let generator = try Generator(directory: TestSupport.randomCheckpoint(.moepp, seed: 4))
        var reports: [TokenReport] = []
        try generator.generate(prompt: "the cat and", maxTokens: 10) { event in
            if case .token(let token) = event { reports.append(token) }
        }
        #expect(reports.count == 10)
        // The same tokens replayed with a fresh pass each: what every record said when it was made.
        let model = generator.model
        let cache = model.makeCache()
        _ = try model.forward(generator.promptIds("the cat and", startsConversation: true), cache: cache)
        for report in reports {
            let reference = try model.forward([report.id], cache: cache)
            #expect(try Self.encoded(report.routing.layers) == Self.encoded(reference.routing[0]))
        }
        // Consecutive records differ (else keeping one copy for all would pass the check above).
        #expect(try Set(reports.map { try Self.encoded($0.routing.layers) }).count > 1)
    }
}
