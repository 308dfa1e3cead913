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
        /// Whether several experts may be held at once (a decode step then runs all of them
        /// together); false when each acquire may evict the expert acquired before.
        var holdsSeveral: Bool

        public init(acquire: @escaping (Int) throws -> FFNExpert, release: @escaping (Int) -> Void, holdsSeveral: Bool = false) {
            self.acquire = acquire
            self.release = release
            self.holdsSeveral = holdsSeveral
        }

        /// Experts viewed in the mapped checkpoint: nothing to fetch or give back.
        public static func mapped(_ experts: [FFNExpert]) -> ExpertAccess {
            ExpertAccess(acquire: { experts[$0] }, release: { _ in }, holdsSeveral: true)
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
        if tokens == 1 && access.holdsSeveral {
            try runExpertsTogether(&routed, input: x, access: access)
        } else {
            try runExpertsOneByOne(&routed, input: x, access: access)
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

    /// A batch: each needed expert once over all the tokens routed to it.
    func runExpertsOneByOne(_ routed: inout Routed, input x: [Float], access: ExpertAccess) throws {
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
    }

    /// One decode token: every chosen expert at once — the gate and up products of all of them
    /// as one parallel region, then all their down products as another — instead of three
    /// regions per expert. Same kernels, same order of the weighted sum, so the same result:
    ///   h_e = silu(G_e·(s·x)) ⊙ (U_e·(s·x)),   y += Σ_e w_e · D_e·h_e  (e ascending).
    func runExpertsTogether(_ routed: inout Routed, input x: [Float], access: ExpertAccess) throws {
        let d = config.hiddenSize
        let needed = routed.ffnExpertsNeeded
        var experts: [FFNExpert] = []
        experts.reserveCapacity(needed.count)
        defer { for e in needed.prefix(experts.count) { access.release(e) } }
        for e in needed { experts.append(try access.acquire(e)) }
        let inner = experts.reduce(0) { $0 + $1.intermediateSize }
        let scale = routed.inputScale[0]
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d + 2 * inner + needed.count * d) { buffer in
            let scaled = buffer.baseAddress!, gated = scaled + d, upped = gated + inner, outputs = upped + inner
            for i in 0..<d { scaled[i] = x[i] * scale }
            var products: [MatvecProduct] = []
            products.reserveCapacity(2 * experts.count)
            var offset = 0
            for expert in experts {
                products.append(MatvecProduct(expert.gate, scaled, gated + offset))
                products.append(MatvecProduct(expert.up, scaled, upped + offset))
                offset += expert.intermediateSize
            }
            Kernels.matvecs(products)
            Kernels.siluMultiply(gated, upped, gated, inner)
            products.removeAll(keepingCapacity: true)
            offset = 0
            for (j, expert) in experts.enumerated() {
                products.append(MatvecProduct(expert.down, gated + offset, outputs + j * d))
                offset += expert.intermediateSize
            }
            Kernels.matvecs(products)
            routed.hidden.withUnsafeMutableBufferPointer { output in
                for (j, e) in needed.enumerated() {
                    Kernels.addScaled(outputs + j * d, routed.assignments[e][0].weight, output.baseAddress!, d)
                }
            }
        }
    }
}
