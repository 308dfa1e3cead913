import Foundation
import Testing
@testable import MoEKit

@Suite("Trainer backward passes against central finite differences (f64)")
struct GradientCheckTests {
    func tinyConfig(_ family: ModelFamily, logitsNorm: Bool = true) -> ModelConfig {
        var config = ModelConfig(family: family, vocabSize: 23, hiddenSize: 8, intermediateSize: 6, numLayers: 2,
                                 numHeads: 2, numKeyValueHeads: 2, numExperts: family == .moepp ? 8 : 4, topK: 2,
                                 ropeTheta: 10_000, rmsNormEps: 1e-5, maxPositionEmbeddings: 64)
        config.useLogitsNorm = family == .moepp && logitsNorm
        config.gateNormStd = 1.3
        return config
    }

    /// Every parameter random (gating residuals and constants included), so every path carries gradient.
    func randomStore(_ config: ModelConfig, seed: UInt64) -> ParameterStore<Double> {
        let store = ParameterStore<Double>(config: config)
        var random = SeededRandom(seed: seed)
        for entry in store.layout.entries {
            let start = store.offset(entry.name)
            for i in 0..<entry.count {
                store.values[start + i] = entry.role == .norm ? 1 + 0.2 * Double(random.normal()) : 0.5 * Double(random.normal())
            }
        }
        return store
    }

    func check(_ config: ModelConfig, seed: UInt64) {
        let store = randomStore(config, seed: seed)
        let model = TrainingModel(store: store, batch: 2, length: 5, balanceCoefficient: 0.05, tau: 0.5)
        var random = SeededRandom(seed: seed + 100)
        let tokens = (0..<10).map { _ in Int(random.next() % 23) }
        let targets = (0..<10).map { _ in Int(random.next() % 23) }
        store.zeroGradients()
        model.forward(tokens: tokens, targets: targets)
        model.backward()
        let analytic = (0..<store.count).map { store.gradients[$0] }
        let step = 1e-6
        var worst: [String: Double] = [:]
        for entry in store.layout.entries {
            let start = store.offset(entry.name)
            let picks = entry.count <= 12 ? Array(0..<entry.count) : (0..<12).map { _ in Int(random.next() % UInt64(entry.count)) }
            for i in picks {
                let original = store.values[start + i]
                store.values[start + i] = original + step
                let up = model.forward(tokens: tokens, targets: targets)
                store.values[start + i] = original - step
                let down = model.forward(tokens: tokens, targets: targets)
                store.values[start + i] = original
                let numeric = (up - down) / (2 * step)
                let a = analytic[start + i]
                let error = abs(a - numeric) / max(abs(a), abs(numeric), 1e-6)
                worst[entry.name] = max(worst[entry.name] ?? 0, error)
            }
        }
        for (name, error) in worst.sorted(by: { $0.key < $1.key }) {
            #expect(error < 1e-3, "\(config.family) \(name): relative error \(error)")
        }
        #expect(worst.keys.contains { $0.contains("gate_map") } == (config.family == .moepp))
    }

    @Test("MoE++: every tensor, including router, gating residual and constant experts")
    func moePlusPlus() { check(tinyConfig(.moepp), seed: 1) }

    @Test("MoE++ without logits norm")
    func moePlusPlusPlainLogits() { check(tinyConfig(.moepp, logitsNorm: false), seed: 2) }

    @Test("vanilla (Mixtral layout)")
    func vanilla() { check(tinyConfig(.mixtral), seed: 3) }

    @Test("grouped key/value heads (4 query heads share 2 key/value heads)")
    func groupedKeyValueHeads() {
        var config = tinyConfig(.moepp)
        config.numHeads = 4
        config.numKeyValueHeads = 2
        config.headDim = 2
        check(config, seed: 5)
    }

    @Test("the training forward equals the inference engine's logits path on the same weights", arguments: [2, 1])
    func trainingForwardMatchesEngine(keyValueHeads: Int) throws {
        var config = tinyConfig(.moepp)
        config.numKeyValueHeads = keyValueHeads
        config.vocabSize = RandomCheckpoint.fixtureTokens().count + 1
        let store = randomStore(config, seed: 4)
        let directory = TestSupport.temporaryDirectory()
        let floatStore = ParameterStore<Float>(config: config)
        for i in 0..<store.count { floatStore.values[i] = Float(store.values[i]) }
        try floatStore.save(to: directory, dtype: .f32)
        let engine = try Transformer(directory: directory)
        let tokens = [3, 9, 27, 100, 7]
        let output = try engine.forward(tokens, cache: engine.makeCache(), allLogits: true)
        let model = TrainingModel(store: store, batch: 1, length: 5)
        model.forward(tokens: tokens, targets: [0, 0, 0, 0, 0])
        // Compare next-token distributions (the trainer keeps softmax probabilities).
        let v = config.vocabSize
        for t in 0..<5 {
            let engineProbabilities = NaiveKernels.softmax(Array(output.logits[t * v..<(t + 1) * v]))
            let trainerProbabilities = (0..<v).map { Float(model.probabilities[t * v + $0]) }
            #expect(TestSupport.close(engineProbabilities, trainerProbabilities, relative: 1e-4), "position \(t), \(keyValueHeads) KV heads")
        }
    }
}
