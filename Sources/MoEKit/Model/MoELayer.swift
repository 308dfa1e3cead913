/// One mixture-of-experts layer (moepp-spec "Router" and "Output"): route each token, then run
/// every chosen FFN expert once over all the tokens routed to it, and add the cheap experts inline;
/// shared experts, when the family has them, run over every token.
///   y_t = Σ_{i ∈ chosen(t)} w_{t,i} · E_i(s·x_t) + Σ_j g_{t,j} · S_j(x_t),
///   s = k if the config multiplies by top-k, else 1;  g = the shared expert's gate (SharedExpert).
public struct MoELayer: Sendable {
    public let config: ModelConfig
    public let layerIndex: Int
    public let router: Router
    public let ffnExperts: [FFNExpert]
    public let constantExperts: [ConstantExpert]
    /// Always-on experts outside the router; they stay in the mapping (never offloaded: every
    /// token needs them).
    public let shared: [SharedExpert]
    let gate: Gate

    public init(config: ModelConfig, layerIndex: Int, router: Router, ffnExperts: [FFNExpert], constantExperts: [ConstantExpert],
                shared: [SharedExpert] = []) {
        self.config = config
        self.layerIndex = layerIndex
        self.router = router
        self.ffnExperts = ffnExperts
        self.constantExperts = constantExperts
        self.shared = shared
        gate = Gate(config: config)
    }

    public struct Output {
        public var hidden: [Float]
        /// Post-residual, pre-normalisation logits per token: the next layer's gating-residual input.
        public var passedLogits: [[Float]]
        public var routing: [LayerRouting]
    }

    /// The routing half of a layer pass: decisions and records, the cheap experts already added
    /// into `hidden`, and the FFN work still to do (`assignments`).
    public struct Routed {
        public var hidden: [Float]
        public var passedLogits: [[Float]]
        public var routing: [LayerRouting]
        /// Per FFN expert, the tokens routed to it with their weights.
        var assignments: [[(token: Int, weight: Float)]]
        var inputScale: [Float]
        /// Per token, each shared expert's weight g_{t,j}.
        var sharedWeights: [[Float]]

        /// FFN experts with at least one token, ascending.
        public var ffnExpertsNeeded: [Int] { assignments.indices.filter { !assignments[$0].isEmpty } }
    }

    /// Where FFN experts come from: the mapped checkpoint, or an expert cache.
    public struct ExpertAccess {
        var acquire: (Int) throws -> FFNExpert
        var release: (Int) -> Void

        public init(acquire: @escaping (Int) throws -> FFNExpert, release: @escaping (Int) -> Void) {
            self.acquire = acquire
            self.release = release
        }

        /// Experts viewed in the mapped checkpoint: nothing to fetch or give back.
        public static func mapped(_ experts: [FFNExpert]) -> ExpertAccess {
            ExpertAccess(acquire: { experts[$0] }, release: { _ in })
        }
    }

    /// One token's gate: router logits W_r·x, plus G·previous when the gating residual is on,
    /// then the gate's choice and adaptive gating. The prefetcher runs the same steps ahead.
    func decide(_ x: UnsafePointer<Float>, previous: [Float]?, controls: RoutingControls)
        -> (raw: [Float], logits: [Float], decision: Gate.Decision, droppedSlots: [Int]) {
        let raw = router.logits(x)
        var logits = raw
        if controls.gatingResidual, let residual = router.residual, let previous {
            logits = residual.apply(raw, previous: previous)
        }
        var decision = gate.decide(logits, controls: controls, bias: router.scoreCorrectionBias)
        let droppedSlots = controls.adaptiveGate?.apply(&decision, layer: layerIndex) ?? []
        return (raw, logits, decision, droppedSlots)
    }

    public func forward(_ x: [Float], tokens: Int, previousLogits: [[Float]]?, controls: RoutingControls) -> Output {
        var routed = route(x, tokens: tokens, previousLogits: previousLogits, controls: controls)
        try! runExperts(&routed, input: x, tokens: tokens, access: .mapped(ffnExperts))
        return Output(hidden: routed.hidden, passedLogits: routed.passedLogits, routing: routed.routing)
    }

    public func route(_ x: [Float], tokens: Int, previousLogits: [[Float]]?, controls: RoutingControls) -> Routed {
        let d = config.hiddenSize
        var out = [Float](repeating: 0, count: tokens * d)
        var passed: [[Float]] = []
        var routing: [LayerRouting] = []
        var assignments = [[(token: Int, weight: Float)]](repeating: [], count: ffnExperts.count)
        var inputScale = [Float](repeating: 1, count: tokens)
        var sharedWeights: [[Float]] = []
        x.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for t in 0..<tokens {
                    let xt = input.baseAddress! + t * d
                    let outT = output.baseAddress! + t * d
                    let (raw, logits, decision, droppedSlots) = decide(xt, previous: previousLogits?[t], controls: controls)
                    let withoutResidual = logits == raw ? decision : gate.decide(raw, controls: controls, bias: router.scoreCorrectionBias)
                    let scale: Float = config.multiplyInputByTopK ? Float(decision.chosen.count) : 1
                    inputScale[t] = scale
                    var scaled = [Float](repeating: 0, count: d)
                    for i in 0..<d { scaled[i] = xt[i] * scale }
                    var ffnComputed = 0
                    var chosen: [ChosenExpert] = []
                    for (slot, index) in decision.chosen.enumerated() {
                        let weight = decision.weights[slot]
                        let kind = config.kind(ofExpert: index)
                        chosen.append(ChosenExpert(index: index, kind: kind, weight: weight, dropped: droppedSlots.contains(slot)))
                        guard weight != 0 else { continue }
                        switch kind {
                        case .ffn(let e):
                            assignments[e].append((t, weight))
                            ffnComputed += 1
                        case .zero, .shared:   // router slots are never shared experts
                            break
                        case .copy:
                            ParameterFreeExpert.accumulateCopy(scaled, weight: weight, into: outT, d)
                        case .constant(let c):
                            constantExperts[c].accumulate(scaled, weight: weight, into: outT)
                        }
                    }
                    let sharedWeight = shared.map { $0.weight(xt) }
                    sharedWeights.append(sharedWeight)
                    passed.append(logits)
                    routing.append(LayerRouting(
                        layer: layerIndex, routerLogits: raw, residualLogits: logits,
                        probabilities: decision.probabilities, chosen: chosen,
                        probabilitiesWithoutResidual: withoutResidual.probabilities,
                        chosenWithoutResidual: withoutResidual.chosen, ffnExpertsComputed: ffnComputed,
                        shared: sharedRecords(sharedWeight), rule: gate.rule))
                }
            }
        }
        return Routed(hidden: out, passedLogits: passed, routing: routing, assignments: assignments, inputScale: inputScale,
                      sharedWeights: sharedWeights)
    }

    /// One always-on entry per shared expert (a fused FFN of n experts lists n), numbered in order.
    func sharedRecords(_ weights: [Float]) -> [ChosenExpert] {
        var records: [ChosenExpert] = []
        for (expert, weight) in zip(shared, weights) {
            for _ in 0..<expert.count { records.append(ChosenExpert(index: records.count, kind: .shared(records.count), weight: weight)) }
        }
        return records
    }

    /// The FFN half: each needed expert runs once over all its tokens, its output added with the
    /// tokens' weights.
    public func runExperts(_ routed: inout Routed, input x: [Float], tokens: Int, access: ExpertAccess) throws {
        let d = config.hiddenSize
        for (e, routedTokens) in routed.assignments.enumerated() where !routedTokens.isEmpty {
            let n = routedTokens.count
            var batch = [Float](repeating: 0, count: n * d)
            for (row, item) in routedTokens.enumerated() {
                let scale = routed.inputScale[item.token]
                for i in 0..<d { batch[row * d + i] = x[item.token * d + i] * scale }
            }
            var result = [Float](repeating: 0, count: n * d)
            let expert = try access.acquire(e)
            expert.forward(batch, tokens: n, into: &result)
            access.release(e)
            routed.hidden.withUnsafeMutableBufferPointer { output in
                result.withUnsafeBufferPointer {
                    for (row, item) in routedTokens.enumerated() {
                        Kernels.addScaled($0.baseAddress! + row * d, item.weight, output.baseAddress! + item.token * d, d)
                    }
                }
            }
        }
        for (j, expert) in shared.enumerated() {
            var result = [Float](repeating: 0, count: tokens * d)
            expert.ffn.forward(x, tokens: tokens, into: &result)
            routed.hidden.withUnsafeMutableBufferPointer { output in
                result.withUnsafeBufferPointer {
                    for t in 0..<tokens {
                        Kernels.addScaled($0.baseAddress! + t * d, routed.sharedWeights[t][j], output.baseAddress! + t * d, d)
                    }
                }
            }
        }
    }
}
