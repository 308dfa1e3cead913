import Foundation
import Testing
@testable import MoEKit

@Suite("Generation: sampling, live controls, stopping")
struct GeneratorTests {
    func generator(_ family: ModelFamily = .moepp, seed: UInt64 = 4, maxPositions: Int? = nil) throws -> Generator {
        let directory = TestSupport.randomCheckpoint(family, seed: seed) { config in
            if let maxPositions { config.maxPositionEmbeddings = maxPositions }
        }
        return try Generator(directory: directory)
    }

    func collect(_ generator: Generator, prompt: String, maxTokens: Int, onToken: (Int) -> Void = { _ in }) throws -> ([TokenReport], FinishReport) {
        var tokens: [TokenReport] = []
        let report = try generator.generate(prompt: prompt, maxTokens: maxTokens) { event in
            if case .token(let token) = event {
                tokens.append(token)
                onToken(tokens.count)
            }
        }
        return (tokens, report)
    }

    @Test("greedy generation equals argmax of a hand-driven forward loop")
    func greedyMatchesManualLoop() throws {
        let g = try generator()
        let (tokens, report) = try collect(g, prompt: "the cat and", maxTokens: 12)
        let model = g.model
        let cache = model.makeCache()
        var logits = try model.forward(g.tokenizer.encode("the cat and"), cache: cache).logits
        var manual: [Int] = []
        for _ in 0..<tokens.count {
            let next = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
            manual.append(next)
            logits = try model.forward([next], cache: cache).logits
        }
        #expect(tokens.map(\.id) == manual)
        #expect(report.generatedTokens == tokens.count)
        #expect(tokens.allSatisfy { $0.routing.layers.count == model.config.numLayers && $0.routing.phase == "generated" })
    }

    @Test("sampling is reproducible from its seed and varies across seeds")
    func seededSampling() throws {
        func run(_ seed: UInt64) throws -> [Int] {
            let g = try generator()
            g.controls.update { $0.sampling = SamplingSettings(temperature: 1.5, topK: 50, topP: 0.95, seed: seed) }
            return try collect(g, prompt: "and", maxTokens: 20).0.map(\.id)
        }
        #expect(try run(1) == run(1))
        #expect(try run(1) != run(2))
    }

    @Test("top-k 1 and tiny top-p sample the argmax")
    func degenerateSampling() {
        var sampler = Sampler(seed: 3)
        let logits: [Float] = [0.1, 2, 1.9, -1]
        for _ in 0..<50 {
            #expect(sampler.sample(logits[...], SamplingSettings(temperature: 2, topK: 1)) == 1)
            #expect(sampler.sample(logits[...], SamplingSettings(temperature: 1, topP: 0.01)) == 1)
        }
    }

    @Test("sample frequencies follow softmax(logits / T)")
    func samplingDistribution() {
        var sampler = Sampler(seed: 5)
        let logits: [Float] = [0, 1, 2]
        var counts = [0, 0, 0]
        let draws = 30_000
        for _ in 0..<draws { counts[sampler.sample(logits[...], SamplingSettings(temperature: 1))] += 1 }
        let expected = NaiveKernels.softmax(logits)
        for i in 0..<3 { #expect(abs(Float(counts[i]) / Float(draws) - expected[i]) < 0.015) }
    }

    @Test("a toggle made mid-generation applies from the next token on")
    func liveToggle() throws {
        let g = try generator(seed: 6)
        g.controls.update { $0.routing.topK = 2 }
        var switchedAt = 0
        let (tokens, _) = try collect(g, prompt: "the", maxTokens: 30) { count in
            if count == 10 {
                g.controls.update { $0.routing.mask.zeroEnabled = false }
                switchedAt = count
            }
        }
        let zeroUse = tokens.map { $0.routing.layers.flatMap(\.chosen).filter { $0.kind == .zero }.count }
        #expect(zeroUse[..<switchedAt].reduce(0, +) > 0, "the random router uses the zero expert before the toggle")
        #expect(zeroUse[switchedAt...].allSatisfy { $0 == 0 })
    }

    @Test("shouldStop ends generation with reason 'stopped'")
    func stop() throws {
        let g = try generator()
        var produced = 0
        let report = try g.generate(prompt: "a", maxTokens: 100, shouldStop: { produced >= 3 }) { event in
            if case .token = event { produced += 1 }
        }
        #expect(report.reason == .stopped && report.generatedTokens == 3)
    }

    @Test("a full context ends generation cleanly")
    func contextFull() throws {
        let g = try generator(maxPositions: 16)
        let (tokens, report) = try collect(g, prompt: "the cat", maxTokens: 100)
        #expect(report.reason == .contextFull)
        #expect(g.cache.length <= 16 && tokens.count > 0)
    }

    @Test("the conversation continues from the cache; reset forgets it")
    func conversation() throws {
        let g = try generator()
        _ = try collect(g, prompt: "the", maxTokens: 3)
        let afterFirst = g.cache.length
        _ = try collect(g, prompt: " and", maxTokens: 3)
        #expect(g.cache.length > afterFirst)
        g.reset()
        #expect(g.cache.length == 0)
    }
}

@Suite("Token classes for the routing analysis")
struct TokenClassTests {
    @Test("punctuation, function words, content words, fragments, numbers, whitespace")
    func classes() {
        #expect(TokenClass.classify(",", after: " lord") == .punctuation)
        #expect(TokenClass.classify(" the", after: ",") == .functionWord)
        #expect(TokenClass.classify(" Thou", after: "\n") == .functionWord)
        #expect(TokenClass.classify(" kingdom", after: " the") == .contentWord)
        #expect(TokenClass.classify("dom", after: " king") == .fragment)
        #expect(TokenClass.classify(" 42", after: " the") == .number)
        #expect(TokenClass.classify("\n\n", after: ".") == .whitespace)
    }
}
