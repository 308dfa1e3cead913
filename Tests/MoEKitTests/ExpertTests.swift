import Foundation
import Testing
@testable import MoEKit

@Suite("Expert semantics and the MoE layer on a router that knows its answer")
struct ExpertTests {
    let d = 4

    func config(multiplyByTopK: Bool = false) -> ModelConfig {
        var config = ModelConfig(family: .moepp, vocabSize: 10, hiddenSize: 4, intermediateSize: 3, numLayers: 1,
                                 numHeads: 1, numKeyValueHeads: 1, numExperts: 8)
        config.multiplyInputByTopK = multiplyByTopK
        return config
    }

    func ffnExpert(seed: UInt64) -> FFNExpert {
        var random = SeededRandom(seed: seed)
        return FFNExpert(gate: .owning(rows: 3, cols: 4, values: random.normals(12, scale: 1)),
                         up: .owning(rows: 3, cols: 4, values: random.normals(12, scale: 1)),
                         down: .owning(rows: 4, cols: 3, values: random.normals(12, scale: 1)))
    }

    /// W_down · (silu(W_gate·x) ⊙ W_up·x), term by term.
    func naiveFFN(_ e: FFNExpert, _ x: [Float]) -> [Float] {
        let inner = NaiveKernels.siluMultiply(NaiveKernels.matvec(e.gate, x), NaiveKernels.matvec(e.up, x))
        return NaiveKernels.matvec(e.down, inner)
    }

    /// A router whose row i is `rows[i]` (zero elsewhere).
    func layer(router rows: [Int: [Float]], config: ModelConfig) -> MoELayer {
        var values = [Float](repeating: 0, count: 8 * d)
        for (expert, row) in rows { for c in 0..<d { values[expert * d + c] = row[c] } }
        let constants = [ConstantExpert(mixing: [1, 0, 0, 0, 0, 1, 0, 0], vector: [10, 20, 30, 40]),
                         ConstantExpert(mixing: [0, 0, 0, 0, 0, 0, 0, 0], vector: [-1, -1, -1, -1])]
        return MoELayer(config: config, layerIndex: 0, router: Router(projection: .linear(.owning(rows: 8, cols: d, values: values)), residual: nil),
                        ffnExperts: (0..<4).map { ffnExpert(seed: UInt64($0) + 1) }, constantExperts: constants)
    }

    let x: [Float] = [1, 0.5, -0.5, 2]

    @Test("FFN expert equals the SwiGLU formula")
    func ffn() {
        let e = ffnExpert(seed: 7)
        var out = [Float](repeating: 0, count: d)
        e.forward(x, tokens: 1, into: &out)
        #expect(TestSupport.close(out, naiveFFN(e, x), relative: 1e-5))
    }

    @Test("constant expert: a₀·x + a₁·v with [a₀, a₁] = softmax(W_c·x)")
    func constant() {
        let e = ConstantExpert(mixing: [1, 0, 0, 0, 0, 1, 0, 0], vector: [10, 20, 30, 40])
        // W_c·x = [x₀, x₁] = [1, 0.5]
        let a0 = 1 / (1 + expf(-0.5)), a1 = 1 - a0
        var out = [Float](repeating: 0, count: d)
        e.accumulate(x, weight: 1, into: &out)
        #expect(TestSupport.close(out, (0..<d).map { a0 * x[$0] + a1 * e.vector[$0] }, relative: 1e-6))
    }

    @Test("{FFN 0, copy}: y = w₀·FFN₀(x) + w_copy·x")
    func ffnAndCopy() {
        let moe = layer(router: [0: [3, 0, 0, 0], 6: [2, 0, 0, 0]], config: config())
        let out = moe.forward(x, tokens: 1, previousLogits: nil, controls: RoutingControls())
        let w0 = 1 / (1 + expf(-1))   // e³ / (e³ + e²)
        let expected = zip(naiveFFN(moe.ffnExperts[0], x), x).map { w0 * $0 + (1 - w0) * $1 }
        #expect(out.routing[0].chosen.map(\.index) == [0, 6])
        #expect(out.routing[0].ffnExpertsComputed == 1)
        #expect(TestSupport.close(out.hidden, expected, relative: 1e-5))
    }

    @Test("{FFN 2, zero}: the zero expert hands FFN 2 the whole weight")
    func ffnAndZero() {
        let moe = layer(router: [2: [3, 0, 0, 0], 7: [2.5, 0, 0, 0]], config: config())
        let out = moe.forward(x, tokens: 1, previousLogits: nil, controls: RoutingControls())
        #expect(out.routing[0].chosen.map(\.weight) == [1, 0])
        #expect(TestSupport.close(out.hidden, naiveFFN(moe.ffnExperts[2], x), relative: 1e-5))
    }

    @Test("{constant 0, zero}: the token is replaced by the constant blend")
    func constantAndZero() {
        let moe = layer(router: [4: [3, 0, 0, 0], 7: [2.5, 0, 0, 0]], config: config())
        let out = moe.forward(x, tokens: 1, previousLogits: nil, controls: RoutingControls())
        let a0 = 1 / (1 + expf(-0.5))
        #expect(out.routing[0].ffnExpertsComputed == 0)
        #expect(TestSupport.close(out.hidden, (0..<d).map { a0 * x[$0] + (1 - a0) * [10, 20, 30, 40][$0] }, relative: 1e-5))
    }

    @Test("with input ×k the experts see k·x")
    func multiplyByTopK() {
        let moe = layer(router: [1: [3, 0, 0, 0], 6: [2, 0, 0, 0]], config: config(multiplyByTopK: true))
        let out = moe.forward(x, tokens: 1, previousLogits: nil, controls: RoutingControls())
        let w1 = 1 / (1 + expf(-1))
        let scaled = x.map { $0 * 2 }
        let expected = zip(naiveFFN(moe.ffnExperts[1], scaled), scaled).map { w1 * $0 + (1 - w1) * $1 }
        #expect(TestSupport.close(out.hidden, expected, relative: 1e-5))
    }

    @Test("a batch of tokens routed to different experts equals each token alone")
    func batchEqualsSingles() {
        var random = SeededRandom(seed: 21)
        var rows: [Int: [Float]] = [:]
        for e in 0..<8 { rows[e] = random.normals(d, scale: 2) }
        let moe = layer(router: rows, config: config())
        let tokens = (0..<9).map { _ in random.normals(d, scale: 1) }
        let batch = moe.forward(tokens.flatMap { $0 }, tokens: 9, previousLogits: nil, controls: RoutingControls())
        for (t, token) in tokens.enumerated() {
            let single = moe.forward(token, tokens: 1, previousLogits: nil, controls: RoutingControls())
            #expect(TestSupport.close(Array(batch.hidden[t * d..<(t + 1) * d]), single.hidden, relative: 1e-5))
        }
        #expect(Set(batch.routing.flatMap { $0.chosen.map(\.index) }).count > 3, "the batch exercises several experts")
    }
}
