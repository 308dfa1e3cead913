import Foundation
import Testing
@testable import MoEKit

@Suite("AdapMoE adaptive gating and calibration")
struct AdaptiveGateTests {
    func decision(_ chosen: [Int], _ weights: [Float]) -> Gate.Decision {
        Gate.Decision(probabilities: [], chosen: chosen, weights: weights)
    }

    @Test("the weaker slot is dropped below the threshold and the other takes weight 1")
    func thresholdRule() {
        let gate = AdaptiveGate(thresholds: [0.3, 0.1])
        var d = decision([2, 5], [0.75, 0.25])
        #expect(gate.apply(&d, layer: 0) == [1])
        #expect(d.weights == [1, 0])
        d = decision([2, 5], [0.75, 0.25])
        #expect(gate.apply(&d, layer: 1).isEmpty, "0.25 ≥ layer 1's threshold 0.1")
        #expect(d.weights == [0.75, 0.25])
        // Zero expert first under MoE++'s rule: the other slot already has everything.
        d = decision([7, 1], [0, 1])
        #expect(gate.apply(&d, layer: 0).isEmpty)
        // Equal weights are never below a threshold ≤ 0.5.
        d = decision([0, 1], [0.5, 0.5])
        #expect(gate.apply(&d, layer: 0).isEmpty)
        // Top-1 routing has nothing to drop.
        d = decision([3], [1])
        #expect(gate.apply(&d, layer: 0).isEmpty)
    }

    @Test("thresholds follow t = √(2ε / (F·D)): more sensitive layers get smaller thresholds")
    func thresholdsFromCalibration() {
        let calibration = Calibration(layers: [.init(sensitivity: 4, expertDifference: 2, tokens: 10),
                                               .init(sensitivity: 1, expertDifference: 2, tokens: 10),
                                               .init(sensitivity: 0, expertDifference: 0, tokens: 0)],
                                      calibrationTokens: 100, defaultEpsilon: 0.01)
        let gate = AdaptiveGate(calibration: calibration, epsilon: 0.16)
        #expect(abs(gate.thresholds[0] - 0.2) < 1e-6)   // √(0.32 / 8)
        #expect(abs(gate.thresholds[1] - 0.4) < 1e-6)   // √(0.32 / 2)
        #expect(gate.thresholds[2] == 0, "no measurement: never drop")
    }

    @Test("in the model, adaptive gating drops slots, marks them, and runs fewer FFN experts")
    func inModel() throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(.mixtral, seed: 8))
        let tokens = Array(0..<40).map { ($0 * 37) % 270 }
        let plain = try model.forward(tokens, cache: model.makeCache())
        let everything = AdaptiveGate(thresholds: [Float](repeating: 0.5, count: model.config.numLayers))
        let adaptive = try model.forward(tokens, cache: model.makeCache(), controls: RoutingControls(adaptiveGate: everything))
        let plainFFN = plain.routing.flatMap { $0 }.reduce(0) { $0 + $1.ffnExpertsComputed }
        let adaptiveFFN = adaptive.routing.flatMap { $0 }.reduce(0) { $0 + $1.ffnExpertsComputed }
        #expect(plainFFN == 40 * 2 * 2)
        #expect(adaptiveFFN < plainFFN)
        for layer in adaptive.routing.flatMap({ $0 }) {
            let dropped = layer.chosen.filter(\.dropped)
            #expect(dropped.allSatisfy { $0.weight == 0 })
            #expect(layer.ffnExpertsComputed == 2 - dropped.count)
        }
    }

    @Test("calibration measures positive sensitivities and expert differences on a trained-shape model")
    func calibrate() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 3) { $0.maxPositionEmbeddings = 32; $0.numKeyValueHeads = $0.numHeads }
        let text = String(repeating: "the cat and the dog went out. ", count: 60)
        let calibration = try Calibrator.calibrate(directory: directory, text: text, maximumTokens: 1000, batch: 2)
        #expect(calibration.layers.count == 2)
        #expect(calibration.layers.allSatisfy { $0.sensitivity > 0 && $0.expertDifference > 0 && $0.tokens > 0 })
        try Calibrator.save(calibration, directory: directory)
        #expect(try Calibrator.load(directory: directory) == calibration)
    }
}
