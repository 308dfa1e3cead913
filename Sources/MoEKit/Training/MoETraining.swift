/// An MoE++ (or vanilla) layer for training: router, gating residual, logits norm, top-k with
/// the zero-weight rule, the four expert kinds, and the heterogeneous load-balance loss — with
/// the backward of each (moepp-spec "Router", "Output", "Training objective").
///
/// Backward, per token, from dy:
///   dw_i = dy·E_i(x);  w = q/Σq ⇒ dq_i = (dw_i − Σ_j w_j dw_j)/Σq (q_zero ≡ 0 carries none);
///   dp_i = dq_i (chosen) + α·E·η_i·f_i/N (balance);  dz = p ⊙ (dp − p·dp);
///   z = σ·l/s ⇒ dl = σ/s·dz − σ·(dz·l)/s² · (l − mean)/((E−1)·s);  dl += gradient from layer j+1;
///   l = W_r·x + G·prev ⇒ dW_r += dl·xᵀ, dG += dl·prevᵀ, dprev = Gᵀ·dl, dx += W_rᵀ·dl.
final class MoETraining<S: TrainingScalar> {
    let config: ModelConfig
    let layer: Int
    let names: TensorNames
    let rows: Int
    let balanceCoefficient: S
    /// τ: the balance term's weight on zero-computation experts.
    let zeroComputationBalanceWeight: S
    /// Accumulate into the store's gradients; off when only activation gradients are wanted.
    let weightGradients: Bool
    var k: Int { config.topK }
    var experts: Int { config.numExperts }

    var input: Buffer<S>
    var logits: Buffer<S>       // l: post-residual, pre-norm (passed to the next layer)
    var previous: Buffer<S>?    // what the previous layer passed on
    var normalized: Buffer<S>   // z
    var scale: Buffer<S>        // s per row (std), 0 when the norm is off
    var probabilities: Buffer<S>
    var chosen: [Int]           // rows × k expert indices
    var weights: [S]            // rows × k final weights
    var qSum: [S]               // Σq per row
    var slotFraction: [S]       // f_i
    public private(set) var balanceLoss: S = 0
    // Per FFN expert: routed (token, slot), and the cached gate/up/hidden/output rows.
    var routed: [[(token: Int, slot: Int)]] = []
    var gates: [Buffer<S>] = [], ups: [Buffer<S>] = [], hiddens: [Buffer<S>] = [], outputs: [Buffer<S>] = []
    var constantMix: [S]        // rows × k × 2 blend coefficients (constant slots only)

    init(config: ModelConfig, layer: Int, rows: Int, balanceCoefficient: S, zeroComputationBalanceWeight: S, weightGradients: Bool = true) {
        self.config = config
        self.layer = layer
        names = TensorNames(family: config.family)
        self.rows = rows
        self.balanceCoefficient = balanceCoefficient
        self.zeroComputationBalanceWeight = zeroComputationBalanceWeight
        self.weightGradients = weightGradients
        let e = config.numExperts
        input = Buffer(rows * config.hiddenSize)
        logits = Buffer(rows * e); normalized = Buffer(rows * e); scale = Buffer(rows); probabilities = Buffer(rows * e)
        chosen = [Int](repeating: 0, count: rows * config.topK)
        weights = [S](repeating: 0, count: rows * config.topK)
        qSum = [S](repeating: 0, count: rows)
        slotFraction = [S](repeating: 0, count: e)
        constantMix = [S](repeating: 0, count: rows * config.topK * 2)
    }

    var hasResidual: Bool { config.hasGatingResidual && layer > 0 }
    /// MoE++ names for the gating residual and constant experts (only MoE++ has them).
    let moepp = MoEPlusPlusArchitecture()

    func gradient(_ name: String, _ store: ParameterStore<S>) -> UnsafeMutablePointer<S>? { weightGradients ? store.gradient(name) : nil }

    func ffnPointers(_ e: Int, _ store: ParameterStore<S>, gradient: Bool) -> (gate: UnsafeMutablePointer<S>, up: UnsafeMutablePointer<S>, down: UnsafeMutablePointer<S>) {
        let inner = config.intermediateSize, d = config.hiddenSize
        let get = gradient ? store.gradient : store.value
        let expert = names.expert(layer, e)
        switch expert.gateUp {
        case .fused(let fused):
            let pointer = get(fused)
            return (pointer, pointer + inner * d, get(expert.down))
        case .separate(let gate, let up):
            return (get(gate), get(up), get(expert.down))
        }
    }

    func balanceWeight(_ expert: Int) -> S { config.kind(ofExpert: expert).isFFN ? 1 : zeroComputationBalanceWeight }

    /// out (N×d) = MoE(x); `previousLogits` is the previous layer's `logits` (nil for the first).
    func forward(_ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, previousLogits: Buffer<S>?, _ store: ParameterStore<S>) {
        let (n, d, e, inner) = (rows, config.hiddenSize, experts, config.intermediateSize)
        input.p.update(from: x, count: n * d)
        out.update(repeating: 0, count: n * d)
        TrainingOps.linear(x, store.value(names.router(layer)), logits.p, rows: n, inputs: d, outputs: e)
        previous = hasResidual ? previousLogits : nil
        if let previous {
            TrainingOps.linear(previous.p, store.value(moepp.gatingResidualName(layer: layer)), logits.p, rows: n, inputs: e, outputs: e, accumulate: true)
        }
        let sigma = S(config.gateNormStd)
        for t in 0..<n {
            let l = logits.p + t * e, z = normalized.p + t * e
            if config.useLogitsNorm {
                var mean: S = 0
                for i in 0..<e { mean += l[i] }
                mean /= S(e)
                var variance: S = 0
                for i in 0..<e { variance += (l[i] - mean) * (l[i] - mean) }
                let s = (variance / S(e - 1)).squareRoot()
                scale[t] = s
                for i in 0..<e { z[i] = s > 0 ? l[i] * sigma / s : l[i] }
            } else {
                for i in 0..<e { z[i] = l[i] }
            }
        }
        probabilities.p.update(from: normalized.p, count: n * e)
        TrainingOps.softmaxRows(probabilities.p, rows: n, width: e)
        // Top-k on z (ties: lower index), zero-weight rule, renormalisation.
        var counts = [Int](repeating: 0, count: e)
        routed = [[(token: Int, slot: Int)]](repeating: [], count: config.numFFNExperts)
        for t in 0..<n {
            let z = normalized.p + t * e, p = probabilities.p + t * e
            var best: [Int] = []
            for i in 0..<e {
                var slot = best.count
                while slot > 0 && z[best[slot - 1]] < z[i] { slot -= 1 }
                if slot < k { best.insert(i, at: slot); if best.count > k { best.removeLast() } }
            }
            var sum: S = 0
            for (slot, i) in best.enumerated() {
                chosen[t * k + slot] = i
                counts[i] += 1
                let q = (!config.useMixtralGating && i == config.zeroExpertIndex) ? 0 : p[i]
                weights[t * k + slot] = q
                sum += q
            }
            qSum[t] = sum
            for slot in 0..<k { weights[t * k + slot] = sum > 0 ? weights[t * k + slot] / sum : 0 }
            for (slot, i) in best.enumerated() { if case .ffn(let f) = config.kind(ofExpert: i) { routed[f].append((t, slot)) } }
        }
        // Balance loss L_b = α·E·Σ_i η_i·f_i·P_i.
        balanceLoss = 0
        for i in 0..<e {
            slotFraction[i] = S(counts[i]) / S(n * k)
            var meanP: S = 0
            for t in 0..<n { meanP += probabilities[t * e + i] }
            meanP /= S(n)
            balanceLoss += balanceCoefficient * S(e) * balanceWeight(i) * slotFraction[i] * meanP
        }
        // FFN experts over their gathered tokens.
        gates = []; ups = []; hiddens = []; outputs = []
        for (f, tokens) in routed.enumerated() {
            let m = tokens.count
            let xs = Buffer<S>(m * d), g = Buffer<S>(m * inner), u = Buffer<S>(m * inner), h = Buffer<S>(m * inner), y = Buffer<S>(m * d)
            for (row, item) in tokens.enumerated() { (xs.p + row * d).update(from: x + item.token * d, count: d) }
            let w = ffnPointers(f, store, gradient: false)
            TrainingOps.linear(xs.p, w.gate, g.p, rows: m, inputs: d, outputs: inner)
            TrainingOps.linear(xs.p, w.up, u.p, rows: m, inputs: d, outputs: inner)
            for i in 0..<(m * inner) { h[i] = g[i] * TrainingOps.sigmoid(g[i]) * u[i] }
            TrainingOps.linear(h.p, w.down, y.p, rows: m, inputs: inner, outputs: d)
            for (row, item) in tokens.enumerated() {
                let weight = weights[item.token * k + item.slot]
                for j in 0..<d { out[item.token * d + j] += weight * y[row * d + j] }
            }
            gates.append(g); ups.append(u); hiddens.append(h); outputs.append(y)
        }
        // Zero-computation experts inline.
        for t in 0..<n {
            for slot in 0..<k {
                let i = chosen[t * k + slot], weight = weights[t * k + slot]
                let xt = x + t * d, ot = out + t * d
                switch config.kind(ofExpert: i) {
                case .copy: for j in 0..<d { ot[j] += weight * xt[j] }
                case .constant:
                    let (a0, a1, v) = constantForward(i, xt, store)
                    constantMix[(t * k + slot) * 2] = a0
                    constantMix[(t * k + slot) * 2 + 1] = a1
                    for j in 0..<d { ot[j] += weight * (a0 * xt[j] + a1 * v[j]) }
                case .ffn, .zero, .shared: break
                }
            }
        }
    }

    /// Σ‖E₁(x) − E₂(x)‖² over tokens whose two chosen slots are both FFN experts with weight > 0,
    /// and how many such tokens there were (AdapMoE calibration's D_l).
    func expertDifference() -> (sum: Double, tokens: Int) {
        let d = config.hiddenSize
        var rowOf = [[Int: (expert: Int, row: Int)]](repeating: [:], count: rows)
        for (f, tokens) in routed.enumerated() {
            for (row, item) in tokens.enumerated() where weights[item.token * k + item.slot] > 0 { rowOf[item.token][item.slot] = (f, row) }
        }
        var sum = 0.0, count = 0
        for slots in rowOf where slots.count == 2 {
            let (a, b) = (slots[0]!, slots[1]!)
            var squared = 0.0
            for j in 0..<d {
                let difference = Double(outputs[a.expert][a.row * d + j] - outputs[b.expert][b.row * d + j])
                squared += difference * difference
            }
            sum += squared
            count += 1
        }
        return (sum, count)
    }

    /// [a₀, a₁] = softmax(W_c·x) and the constant vector v.
    func constantForward(_ expert: Int, _ x: UnsafePointer<S>, _ store: ParameterStore<S>) -> (S, S, UnsafeMutablePointer<S>) {
        let d = config.hiddenSize
        let wc = store.value(moepp.constantMixingName(layer: layer, expert: expert))
        var l0: S = 0, l1: S = 0
        for j in 0..<d { l0 += wc[j] * x[j]; l1 += wc[d + j] * x[j] }
        let top = max(l0, l1)
        let e0 = S.exponential(l0 - top), e1 = S.exponential(l1 - top)
        return (e0 / (e0 + e1), e1 / (e0 + e1), store.value(moepp.constantVectorName(layer: layer, expert: expert)))
    }

    /// Accumulates parameter gradients (if on) and dx; `dLogits` enters holding the gradient the next
    /// layer sent to this layer's `logits` (or zeros) and leaves holding the gradient for the
    /// previous layer's `logits`.
    func backward(_ dOut: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>, dLogits: Buffer<S>, _ store: ParameterStore<S>) {
        let (n, d, e, inner) = (rows, config.hiddenSize, experts, config.intermediateSize)
        let x = input.p
        var dWeights = [S](repeating: 0, count: n * k)
        // FFN experts.
        for (f, tokens) in routed.enumerated() where !tokens.isEmpty {
            let m = tokens.count
            let (g, u, h, y) = (gates[f], ups[f], hiddens[f], outputs[f])
            let xs = Buffer<S>(m * d), dy = Buffer<S>(m * d), dh = Buffer<S>(m * inner), dg = Buffer<S>(m * inner), du = Buffer<S>(m * inner), dxs = Buffer<S>(m * d)
            for (row, item) in tokens.enumerated() {
                (xs.p + row * d).update(from: x + item.token * d, count: d)
                let weight = weights[item.token * k + item.slot]
                var dw: S = 0
                for j in 0..<d {
                    dy[row * d + j] = weight * dOut[item.token * d + j]
                    dw += dOut[item.token * d + j] * y[row * d + j]
                }
                dWeights[item.token * k + item.slot] += dw
            }
            let w = ffnPointers(f, store, gradient: false), gw = weightGradients ? ffnPointers(f, store, gradient: true) : nil
            TrainingOps.linearBackward(h.p, w.down, dy.p, dh.p, gw?.down, rows: m, inputs: inner, outputs: d)
            for i in 0..<(m * inner) {
                let s = TrainingOps.sigmoid(g[i])
                dg[i] = dh[i] * u[i] * s * (1 + g[i] * (1 - s))
                du[i] = dh[i] * g[i] * s
            }
            TrainingOps.linearBackward(xs.p, w.gate, dg.p, dxs.p, gw?.gate, rows: m, inputs: d, outputs: inner)
            TrainingOps.linearBackward(xs.p, w.up, du.p, dxs.p, gw?.up, rows: m, inputs: d, outputs: inner)
            for (row, item) in tokens.enumerated() {
                for j in 0..<d { dx[item.token * d + j] += dxs[row * d + j] }
            }
        }
        // Zero-computation experts.
        for t in 0..<n {
            let xt = x + t * d, gt = dOut + t * d, dxt = dx + t * d
            for slot in 0..<k {
                let i = chosen[t * k + slot], weight = weights[t * k + slot]
                switch config.kind(ofExpert: i) {
                case .copy:
                    var dw: S = 0
                    for j in 0..<d { dw += gt[j] * xt[j]; dxt[j] += weight * gt[j] }
                    dWeights[t * k + slot] += dw
                case .constant:
                    let a0 = constantMix[(t * k + slot) * 2], a1 = constantMix[(t * k + slot) * 2 + 1]
                    let v = store.value(moepp.constantVectorName(layer: layer, expert: i)), dv = gradient(moepp.constantVectorName(layer: layer, expert: i), store)
                    let wc = store.value(moepp.constantMixingName(layer: layer, expert: i)), dwc = gradient(moepp.constantMixingName(layer: layer, expert: i), store)
                    var dw: S = 0, da0: S = 0, da1: S = 0
                    for j in 0..<d {
                        dw += gt[j] * (a0 * xt[j] + a1 * v[j])
                        da0 += weight * gt[j] * xt[j]
                        da1 += weight * gt[j] * v[j]
                        dxt[j] += weight * a0 * gt[j]
                        dv?[j] += weight * a1 * gt[j]
                    }
                    dWeights[t * k + slot] += dw
                    let mean = a0 * da0 + a1 * da1
                    let dl0 = a0 * (da0 - mean), dl1 = a1 * (da1 - mean)
                    for j in 0..<d {
                        dwc?[j] += dl0 * xt[j]
                        dwc?[d + j] += dl1 * xt[j]
                        dxt[j] += dl0 * wc[j] + dl1 * wc[d + j]
                    }
                case .ffn, .zero, .shared: break
                }
            }
        }
        // Weights → probabilities → normalised logits → logits.
        let dProbabilities = Buffer<S>(n * e)
        for t in 0..<n {
            let dp = dProbabilities.p + t * e
            for i in 0..<e { dp[i] = balanceCoefficient * S(e) * balanceWeight(i) * slotFraction[i] / S(n) }
            guard qSum[t] > 0 else { continue }
            var mean: S = 0
            for slot in 0..<k { mean += weights[t * k + slot] * dWeights[t * k + slot] }
            for slot in 0..<k {
                let i = chosen[t * k + slot]
                if !config.useMixtralGating && i == config.zeroExpertIndex { continue }
                dp[i] += (dWeights[t * k + slot] - mean) / qSum[t]
            }
        }
        let sigma = S(config.gateNormStd)
        for t in 0..<n {
            let p = probabilities.p + t * e, dp = dProbabilities.p + t * e
            var dot: S = 0
            for i in 0..<e { dot += p[i] * dp[i] }
            var dz = [S](repeating: 0, count: e)
            for i in 0..<e { dz[i] = p[i] * (dp[i] - dot) }
            let l = logits.p + t * e, dl = dLogits.p + t * e
            if config.useLogitsNorm && scale[t] > 0 {
                let s = scale[t]
                var mean: S = 0, dzl: S = 0
                for i in 0..<e { mean += l[i]; dzl += dz[i] * l[i] }
                mean /= S(e)
                for j in 0..<e {
                    dl[j] += sigma / s * dz[j] - sigma * dzl / (s * s) * (l[j] - mean) / (S(e - 1) * s)
                }
            } else {
                for j in 0..<e { dl[j] += dz[j] }
            }
        }
        TrainingOps.linearBackward(x, store.value(names.router(layer)), dLogits.p, dx, gradient(names.router(layer), store), rows: n, inputs: d, outputs: e)
        let dPrevious = Buffer<S>(n * e)
        if let previous {
            TrainingOps.linearBackward(previous.p, store.value(moepp.gatingResidualName(layer: layer)), dLogits.p, dPrevious.p,
                                       gradient(moepp.gatingResidualName(layer: layer), store), rows: n, inputs: e, outputs: e)
        }
        dLogits.p.update(from: dPrevious.p, count: n * e)
    }
}
