import Foundation
import Testing
@testable import MoEKit

@Suite("The MoE++ gate on hand-computed cases")
struct GateTests {
    /// 4 FFN experts, constants 4 and 5, copy 6, zero 7; no logits norm unless asked.
    func config(logitsNorm: Bool = false, mixtral: Bool = false) -> ModelConfig {
        var config = ModelConfig(family: .moepp, vocabSize: 10, hiddenSize: 4, intermediateSize: 4, numLayers: 1,
                                 numHeads: 1, numKeyValueHeads: 1, numExperts: 8)
        config.useLogitsNorm = logitsNorm
        config.useMixtralGating = mixtral
        return config
    }

    func softmax(_ z: [Float]) -> [Float] { NaiveKernels.softmax(z) }

    @Test("expert order: FFN 0…E−5, constants E−4 and E−3, copy E−2, zero E−1")
    func expertOrder() {
        let c = config()
        #expect((0..<8).map { c.kind(ofExpert: $0) } == [.ffn(0), .ffn(1), .ffn(2), .ffn(3), .constant(0), .constant(1), .copy, .zero])
    }

    @Test("zero-weight rule: {FFN a, zero} gives FFN a weight 1 and zero weight 0")
    func zeroWeightRule() {
        let decision = Gate(config: config()).decide([0, 2, 0, 0, 0, 0, 0, 1.5], controls: RoutingControls())
        #expect(decision.chosen == [1, 7])
        #expect(decision.weights == [1, 0])
    }

    @Test("{FFN a, copy}: weights are the two probabilities renormalised")
    func renormalised() {
        let logits: [Float] = [0, 2, 0, 0, 0, 0, 1.5, 0]
        let p = softmax(logits)
        let decision = Gate(config: config()).decide(logits, controls: RoutingControls())
        #expect(decision.chosen == [1, 6])
        #expect(abs(decision.weights[0] - p[1] / (p[1] + p[6])) < 1e-6)
        #expect(abs(decision.weights[0] + decision.weights[1] - 1) < 1e-6)
        #expect(abs(decision.weights[0] - 1 / (1 + expf(-0.5))) < 1e-6, "= σ(2 − 1.5)")
    }

    @Test("logits norm divides by the unbiased std over σ")
    func logitsNorm() {
        var c = config(logitsNorm: true)
        c.gateNormStd = 2
        let logits: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        let std = Float(6).squareRoot()   // unbiased variance of 1…8 is 6
        let decision = Gate(config: c).decide(logits, controls: RoutingControls())
        let expected = softmax(logits.map { $0 / (std / 2) })
        #expect(TestSupport.close(decision.probabilities, expected, relative: 1e-6))
        #expect(decision.chosen == [7, 6])
        #expect(decision.weights == [0, 1], "zero (7) is chosen first and gets weight 0, so copy (6) gets 1")
    }

    @Test("Mixtral gating: softmax over the chosen logits, no zero-weight rule")
    func mixtralGating() {
        let decision = Gate(config: config(mixtral: true)).decide([0, 2, 0, 0, 0, 0, 0, 1.5], controls: RoutingControls())
        #expect(decision.chosen == [1, 7])
        #expect(abs(decision.weights[1] - 1 / (1 + expf(0.5))) < 1e-6)
    }

    @Test("a masked kind is never selected, whatever its logit")
    func maskedKinds() {
        var random = SeededRandom(seed: 2)
        var controls = RoutingControls()
        controls.mask.zeroEnabled = false
        controls.mask.copyEnabled = false
        controls.mask.disabledExperts = [2]
        let gate = Gate(config: config(logitsNorm: true))
        for _ in 0..<500 {
            var logits = random.normals(8, scale: 3)
            logits[7] += 5   // the zero expert would win
            let decision = gate.decide(logits, controls: controls)
            #expect(!decision.chosen.contains(7) && !decision.chosen.contains(6) && !decision.chosen.contains(2))
            #expect(decision.probabilities[7] == 0 && decision.probabilities[6] == 0)
            #expect(abs(decision.probabilities.reduce(0, +) - 1) < 1e-5)
        }
    }

    @Test("top-k override picks k experts; k is capped by the enabled experts")
    func topKOverride() {
        let gate = Gate(config: config())
        let logits: [Float] = [5, 4, 3, 2, 1, 0, -1, -2]
        #expect(gate.decide(logits, controls: RoutingControls(topK: 1)).chosen == [0])
        #expect(gate.decide(logits, controls: RoutingControls(topK: 3)).chosen == [0, 1, 2])
        var mask = ExpertMask()
        mask.disabledExperts = [0, 1, 2, 3, 4, 5]
        mask.zeroEnabled = false
        #expect(gate.decide(logits, controls: RoutingControls(mask: mask, topK: 4)).chosen == [6])
    }

    @Test("top-1 on the zero expert discards the token (all weights 0)")
    func topOneZero() {
        let decision = Gate(config: config()).decide([0, 0, 0, 0, 0, 0, 0, 3], controls: RoutingControls(topK: 1))
        #expect(decision.chosen == [7] && decision.weights == [0])
    }

    @Test("OLMoE without norm_topk_prob keeps the raw probabilities")
    func noRenormalisation() {
        var c = ModelConfig(family: .olmoe, vocabSize: 10, hiddenSize: 4, intermediateSize: 4, numLayers: 1, numHeads: 1, numKeyValueHeads: 1, numExperts: 4)
        c.normalizeTopK = false
        let logits: [Float] = [1, 3, 2, 0]
        let p = softmax(logits)
        let decision = Gate(config: c).decide(logits, controls: RoutingControls())
        #expect(decision.chosen == [1, 2])
        #expect(TestSupport.close(decision.weights, [p[1], p[2]], relative: 1e-6))
    }

    @Test("gating residual adds G·previous logits")
    func gatingResidual() {
        // G = [[1, 2], [0, -1]], previous = [3, 4] → G·previous = [11, −4].
        let residual = GatingResidual(matrix: .owning(rows: 2, cols: 2, values: [1, 2, 0, -1]))
        #expect(residual.apply([0.5, 0.25], previous: [3, 4]) == [11.5, -3.75])
    }
}
