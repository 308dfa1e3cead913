/// One mixture-of-experts layer (moepp-spec "Router" and "Output"): route each token, then run
/// every chosen FFN expert once over all the tokens routed to it, and add the cheap experts inline.
///   y_t = Σ_{i ∈ chosen(t)} w_{t,i} · E_i(s·x_t),   s = k if the config multiplies by top-k, else 1.
public struct MoELayer: Sendable {
    public let config: ModelConfig
    public let layerIndex: Int
    public let router: Router
    public let ffnExperts: [FFNExpert]
    public let constantExperts: [ConstantExpert]
    let gate: Gate

    public init(config: ModelConfig, layerIndex: Int, router: Router, ffnExperts: [FFNExpert], constantExperts: [ConstantExpert]) {
        self.config = config
        self.layerIndex = layerIndex
        self.router = router
        self.ffnExperts = ffnExperts
        self.constantExperts = constantExperts
        gate = Gate(config: config)
    }

    public struct Output {
        public var hidden: [Float]
        /// Post-residual, pre-normalisation logits per token: the next layer's gating-residual input.
        public var passedLogits: [[Float]]
        public var routing: [LayerRouting]
    }

    public func forward(_ x: [Float], tokens: Int, previousLogits: [[Float]]?, controls: RoutingControls) -> Output {
        let d = config.hiddenSize
        var out = [Float](repeating: 0, count: tokens * d)
        var passed: [[Float]] = []
        var routing: [LayerRouting] = []
        var assignments = [[(token: Int, weight: Float)]](repeating: [], count: ffnExperts.count)
        var inputScale = [Float](repeating: 1, count: tokens)
        x.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for t in 0..<tokens {
                    let xt = input.baseAddress! + t * d
                    let outT = output.baseAddress! + t * d
                    let raw = router.logits(xt)
                    var logits = raw
                    if controls.gatingResidual, let residual = router.residual, let previous = previousLogits?[t] {
                        logits = residual.apply(raw, previous: previous)
                    }
                    var decision = gate.decide(logits, controls: controls)
                    let droppedSlot = controls.adaptiveGate?.apply(&decision, layer: layerIndex)
                    let withoutResidual = logits == raw ? decision : gate.decide(raw, controls: controls)
                    let scale: Float = config.multiplyInputByTopK ? Float(decision.chosen.count) : 1
                    inputScale[t] = scale
                    var scaled = [Float](repeating: 0, count: d)
                    for i in 0..<d { scaled[i] = xt[i] * scale }
                    var ffnComputed = 0
                    var chosen: [ChosenExpert] = []
                    for (slot, index) in decision.chosen.enumerated() {
                        let weight = decision.weights[slot]
                        let kind = config.kind(ofExpert: index)
                        chosen.append(ChosenExpert(index: index, kind: kind, weight: weight, dropped: slot == droppedSlot))
                        guard weight != 0 else { continue }
                        switch kind {
                        case .ffn(let e):
                            assignments[e].append((t, weight))
                            ffnComputed += 1
                        case .zero:
                            break
                        case .copy:
                            ParameterFreeExpert.accumulateCopy(scaled, weight: weight, into: outT, d)
                        case .constant(let c):
                            constantExperts[c].accumulate(scaled, weight: weight, into: outT)
                        }
                    }
                    passed.append(logits)
                    routing.append(LayerRouting(
                        layer: layerIndex, routerLogits: raw, residualLogits: logits,
                        probabilities: decision.probabilities, chosen: chosen,
                        probabilitiesWithoutResidual: withoutResidual.probabilities,
                        chosenWithoutResidual: withoutResidual.chosen, ffnExpertsComputed: ffnComputed))
                }
                for (e, routed) in assignments.enumerated() where !routed.isEmpty {
                    let n = routed.count
                    var batch = [Float](repeating: 0, count: n * d)
                    for (row, item) in routed.enumerated() {
                        let scale = inputScale[item.token]
                        for i in 0..<d { batch[row * d + i] = input[item.token * d + i] * scale }
                    }
                    var result = [Float](repeating: 0, count: n * d)
                    ffnExperts[e].forward(batch, tokens: n, into: &result)
                    for (row, item) in routed.enumerated() {
                        result.withUnsafeBufferPointer {
                            Kernels.addScaled($0.baseAddress! + row * d, item.weight, output.baseAddress! + item.token * d, d)
                        }
                    }
                }
            }
        }
        return Output(hidden: out, passedLogits: passed, routing: routing)
    }
}
