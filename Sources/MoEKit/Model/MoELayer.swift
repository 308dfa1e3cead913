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
    /// into `hidden`, and the FFN work still to do (`assignments`). A decode loop keeps one and
    /// routes every layer of every token into it (`route(_:tokens:previousLogits:controls:into:records:slot:)`):
    /// its arrays are overwritten in place, so steady-state decoding allocates nothing here.
    public struct Routed {
        public var hidden: [Float] = []
        /// Post-residual, pre-normalisation logits per token: the next layer's gating-residual input.
        public var passedLogits: [[Float]] = []
        /// Per token, this layer's record (filled by the array form of `route` only).
        public var routing: [LayerRouting] = []
        /// Per FFN expert, the tokens routed to it with their weights.
        var assignments: [[(token: Int, weight: Float)]] = []
        var inputScale: [Float] = []
        /// Per token, each shared expert's weight g_{t,j}.
        var sharedWeights: [[Float]] = []
        /// Work buffers kept between tokens: one token's gate, its scaled input, the experts a
        /// decode step runs and their products and intermediate vectors.
        var step = GateStep()
        /// A batch's router logits, tokens × experts, when `Router.batchLogits` computes them.
        var batchRaw: [Float] = []
        var scaled: [Float] = []
        var needed: [Int] = []
        var experts: [FFNExpert] = []
        var products: [MatvecProduct] = []
        var expertBuffer: [Float] = []
        /// A dense or shared FFN's work space (FFNExpert.forward(_:tokens:into:work:)).
        var ffnWork: [Float] = []

        public init() {}

        /// FFN experts with at least one token, ascending.
        public var ffnExpertsNeeded: [Int] { assignments.indices.filter { !assignments[$0].isEmpty } }
    }

    /// One token's gate, worked in buffers kept from token to token.
    struct GateStep {
        /// W_r·x, and the logits the gate reads (with G·previous when the residual is on).
        var raw: [Float] = [], logits: [Float] = []
        var routerHidden: [Float] = [], carried: [Float] = []
        var decision = Gate.Decision(probabilities: [], chosen: [], weights: [])
        /// The gate replayed on `raw` alone (only when the residual changed the logits).
        var withoutResidual = Gate.Decision(probabilities: [], chosen: [], weights: [])
        var droppedSlots: [Int] = []
        var gate = Gate.Scratch()
    }

    /// Where FFN experts come from: the mapped checkpoint, or an expert cache.
    public struct ExpertAccess {
        /// The mapped experts, read directly (no closures: building those would allocate per layer).
        private var mapped: [FFNExpert]?
        private var fetch: ((Int) throws -> FFNExpert)?
        private var giveBack: ((Int) -> Void)?
        /// Whether several experts may be held at once (a decode step then runs all of them
        /// together); false when each acquire may evict the expert acquired before.
        var holdsSeveral: Bool

        public init(acquire: @escaping (Int) throws -> FFNExpert, release: @escaping (Int) -> Void, holdsSeveral: Bool = false) {
            fetch = acquire
            giveBack = release
            self.holdsSeveral = holdsSeveral
        }

        /// Experts viewed in the mapped checkpoint: nothing to fetch or give back.
        public static func mapped(_ experts: [FFNExpert]) -> ExpertAccess { ExpertAccess(mapped: experts) }

        private init(mapped experts: [FFNExpert]) {
            mapped = experts
            holdsSeveral = true
        }

        func acquire(_ e: Int) throws -> FFNExpert { try mapped?[e] ?? fetch!(e) }
        func release(_ e: Int) { giveBack?(e) }
    }

    /// One token's gate: router logits W_r·x, plus G·previous when the gating residual is on,
    /// then the gate's choice and adaptive gating. The prefetcher runs the same steps ahead.
    func decide(_ x: UnsafePointer<Float>, previous: [Float]?, controls: RoutingControls)
        -> (raw: [Float], logits: [Float], decision: Gate.Decision, droppedSlots: [Int]) {
        var step = GateStep()
        decide(x, previous: previous, controls: controls, into: &step)
        return (step.raw, step.logits, step.decision, step.droppedSlots)
    }

    /// `decide` into `step`'s buffers.
    /// `raw`, when given, holds W_r·x already (a batch's `Router.batchLogits` row).
    func decide(_ x: UnsafePointer<Float>, previous: [Float]?, controls: RoutingControls, into step: inout GateStep,
                raw: UnsafeBufferPointer<Float>? = nil) {
        if let raw { step.raw.overwrite(with: raw) } else { router.logits(x, into: &step.raw, hidden: &step.routerHidden) }
        if controls.gatingResidual, let residual = router.residual, let previous {
            residual.apply(step.raw, previous: previous, into: &step.logits, carried: &step.carried)
        } else {
            step.logits.overwrite(with: step.raw)
        }
        gate.decide(step.logits, controls: controls, bias: router.scoreCorrectionBias, into: &step.decision, scratch: &step.gate)
        step.droppedSlots.removeAll(keepingCapacity: true)
        if let adaptive = controls.adaptiveGate { adaptive.apply(&step.decision, layer: layerIndex, dropped: &step.droppedSlots) }
    }

    public func forward(_ x: [Float], tokens: Int, previousLogits: [[Float]]?, controls: RoutingControls) -> Output {
        var routed = route(x, tokens: tokens, previousLogits: previousLogits, controls: controls)
        try! runExperts(&routed, input: x, tokens: tokens, access: .mapped(ffnExperts))
        return Output(hidden: routed.hidden, passedLogits: routed.passedLogits, routing: routed.routing)
    }

    public func route(_ x: [Float], tokens: Int, previousLogits: [[Float]]?, controls: RoutingControls) -> Routed {
        var routed = Routed()
        var records = [[LayerRouting]](repeating: [LayerRouting(layer: layerIndex)], count: tokens)
        route(x, tokens: tokens, previousLogits: previousLogits, controls: controls, into: &routed, records: &records, slot: 0)
        routed.routing = records.map { $0[0] }
        return routed
    }

    /// Routes `tokens` rows of `x` into `routed` (reused: overwritten in place) and writes token
    /// t's record into `records[t][slot]`, overwriting that record's arrays in place — a record an
    /// observer still holds is copied on write instead, so what it holds never changes.
    func route(_ x: UnsafePointer<Float>, tokens: Int, previousLogits: [[Float]]?, controls: RoutingControls,
               into routed: inout Routed, records: inout [[LayerRouting]], slot: Int) {
        let d = config.hiddenSize
        routed.hidden.resize(to: tokens * d)
        routed.hidden.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        routed.scaled.resize(to: d)
        if routed.assignments.count != ffnExperts.count { routed.assignments = Array(repeating: [], count: ffnExperts.count) }
        for e in routed.assignments.indices { routed.assignments[e].removeAll(keepingCapacity: true) }
        routed.inputScale.resize(to: tokens)
        if routed.passedLogits.count != tokens { routed.passedLogits = Array(repeating: [], count: tokens) }
        if routed.sharedWeights.count != tokens { routed.sharedWeights = Array(repeating: [], count: tokens) }
        let experts = router.expertCount
        let batched = router.batchLogits(x, tokens: tokens, into: &routed.batchRaw)
        for t in 0..<tokens {
            let xt = x + t * d
            if batched {
                routed.batchRaw.withUnsafeBufferPointer {
                    decide(xt, previous: previousLogits?[t], controls: controls, into: &routed.step,
                           raw: UnsafeBufferPointer(rebasing: $0[t * experts..<(t + 1) * experts]))
                }
            } else {
                decide(xt, previous: previousLogits?[t], controls: controls, into: &routed.step)
            }
            let residualChanged = routed.step.logits != routed.step.raw
            if residualChanged {
                gate.decide(routed.step.raw, controls: controls, bias: router.scoreCorrectionBias, into: &routed.step.withoutResidual,
                            scratch: &routed.step.gate)
            }
            let chosenCount = routed.step.decision.chosen.count
            let scale: Float = config.multiplyInputByTopK ? Float(chosenCount) : 1
            routed.inputScale[t] = scale
            for i in 0..<d { routed.scaled[i] = xt[i] * scale }
            var ffnComputed = 0
            records[t][slot].reset(layer: layerIndex)
            for rank in 0..<chosenCount {
                let index = routed.step.decision.chosen[rank], weight = routed.step.decision.weights[rank]
                let kind = config.kind(ofExpert: index)
                records[t][slot].chosen.append(ChosenExpert(index: index, kind: kind, weight: weight, dropped: routed.step.droppedSlots.contains(rank)))
                guard weight != 0 else { continue }
                switch kind {
                case .ffn(let e):
                    routed.assignments[e].append((t, weight))
                    ffnComputed += 1
                case .zero, .shared:   // router slots are never shared experts
                    break
                case .copy:
                    routed.hidden.withUnsafeMutableBufferPointer { ParameterFreeExpert.accumulateCopy(routed.scaled, weight: weight, into: $0.baseAddress! + t * d, d) }
                case .constant(let c):
                    routed.hidden.withUnsafeMutableBufferPointer { constantExperts[c].accumulate(routed.scaled, weight: weight, into: $0.baseAddress! + t * d) }
                }
            }
            routed.sharedWeights[t].removeAll(keepingCapacity: true)
            for expert in shared { routed.sharedWeights[t].append(expert.weight(xt)) }
            routed.passedLogits[t].overwrite(with: routed.step.logits)
            let withoutResidual = residualChanged ? routed.step.withoutResidual : routed.step.decision
            write(&records[t][slot], routed.step, withoutResidual: withoutResidual, ffnComputed: ffnComputed, sharedWeights: routed.sharedWeights[t])
        }
    }

    /// Fills the rest of a record from a token's gate: the record was reset (`reset(layer:)`) and
    /// its chosen list written.
    private func write(_ record: inout LayerRouting, _ step: GateStep, withoutResidual: Gate.Decision, ffnComputed: Int, sharedWeights: [Float]) {
        record.routerLogits.append(contentsOf: step.raw)
        record.residualLogits.append(contentsOf: step.logits)
        record.probabilities.append(contentsOf: step.decision.probabilities)
        record.probabilitiesWithoutResidual.append(contentsOf: withoutResidual.probabilities)
        record.chosenWithoutResidual.append(contentsOf: withoutResidual.chosen)
        record.ffnExpertsComputed = ffnComputed
        for (expert, weight) in zip(shared, sharedWeights) {
            for _ in 0..<expert.count { record.shared.append(ChosenExpert(index: record.shared.count, kind: .shared(record.shared.count), weight: weight)) }
        }
        record.rule = gate.rule
    }

    /// The FFN half: each needed expert runs once over all its tokens, its output added with the
    /// tokens' weights.
    public func runExperts(_ routed: inout Routed, input x: UnsafePointer<Float>, tokens: Int, access: ExpertAccess) throws {
        let d = config.hiddenSize
        if tokens == 1 && access.holdsSeveral {
            try runExpertsTogether(&routed, input: x, access: access)
        } else {
            try runExpertsOneByOne(&routed, input: x, access: access)
        }
        for (j, expert) in shared.enumerated() {
            var result = routed.expertBuffer
            routed.expertBuffer = []
            result.resize(to: tokens * d)
            routed.ffnWork.resize(to: expert.ffn.workCount(tokens: tokens))
            routed.ffnWork.withUnsafeMutableBufferPointer { expert.ffn.forward(x, tokens: tokens, into: &result, work: $0.baseAddress!) }
            routed.hidden.withUnsafeMutableBufferPointer { output in
                result.withUnsafeBufferPointer {
                    for t in 0..<tokens {
                        Kernels.addScaled($0.baseAddress! + t * d, routed.sharedWeights[t][j], output.baseAddress! + t * d, d)
                    }
                }
            }
            routed.expertBuffer = result
        }
    }

    /// A batch: each needed expert once over all the tokens routed to it.
    func runExpertsOneByOne(_ routed: inout Routed, input x: UnsafePointer<Float>, access: ExpertAccess) throws {
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
    func runExpertsTogether(_ routed: inout Routed, input x: UnsafePointer<Float>, access: ExpertAccess) throws {
        let d = config.hiddenSize
        // The work lists and buffers are taken out of `routed` while pointers into them are in use,
        // and put back after: kept from token to token, they are not reallocated.
        var (needed, experts, products, buffer) = (routed.needed, routed.experts, routed.products, routed.expertBuffer)
        (routed.needed, routed.experts, routed.products, routed.expertBuffer) = ([], [], [], [])
        defer {
            for e in needed.prefix(experts.count) { access.release(e) }
            experts.removeAll(keepingCapacity: true)
            // The products point into `buffer` and view the experts just released.
            products.removeAll(keepingCapacity: true)
            (routed.needed, routed.experts, routed.products, routed.expertBuffer) = (needed, experts, products, buffer)
        }
        needed.removeAll(keepingCapacity: true)
        for e in routed.assignments.indices where !routed.assignments[e].isEmpty { needed.append(e) }
        experts.removeAll(keepingCapacity: true)
        for e in needed { experts.append(try access.acquire(e)) }
        var inner = 0
        for expert in experts { inner += expert.intermediateSize }
        let scale = routed.inputScale[0]
        buffer.resize(to: d + 2 * inner + needed.count * d)
        buffer.withUnsafeMutableBufferPointer { buffer in
            let scaled = buffer.baseAddress!, gated = scaled + d, upped = gated + inner, outputs = upped + inner
            for i in 0..<d { scaled[i] = x[i] * scale }
            products.removeAll(keepingCapacity: true)
            var offset = 0
            for expert in experts {
                products.append(MatvecProduct(expert.gate, scaled, gated + offset))
                products.append(MatvecProduct(expert.up, scaled, upped + offset))
                offset += expert.intermediateSize
            }
            products.withUnsafeBufferPointer { Kernels.matvecs($0, path: .best) }
            Kernels.siluMultiply(gated, upped, gated, inner)
            products.removeAll(keepingCapacity: true)
            offset = 0
            for (j, expert) in experts.enumerated() {
                products.append(MatvecProduct(expert.down, gated + offset, outputs + j * d))
                offset += expert.intermediateSize
            }
            products.withUnsafeBufferPointer { Kernels.matvecs($0, path: .best) }
            routed.hidden.withUnsafeMutableBufferPointer { output in
                for (j, e) in needed.enumerated() {
                    Kernels.addScaled(outputs + j * d, routed.assignments[e][0].weight, output.baseAddress!, d)
                }
            }
        }
    }
}
