extension MoELayer {
    /// A prompt: every needed expert over the tokens routed to it, with the gate and up products
    /// of all of them as one parallel region and all their down products as another
    /// (`Kernels.matmuls`), instead of three regions per expert — a fine-grained model (OLMoE: 64
    /// experts, top-8) sends each expert only a few tokens of a prompt. Same kernels, same
    /// gathered inputs and the same order of the weighted sum as `runExpertsOneByOne`, so the
    /// same result:
    ///   X_e = rows s·x_t of the tokens t routed to e,  H_e = silu(X_e·G_eᵀ) ⊙ (X_e·U_eᵀ),
    ///   y_t += w_{t,e} · (H_e·D_eᵀ)_t   (e ascending, then t in routing order).
    func runExpertBatchesTogether(_ routed: inout Routed, input x: [Float], access: ExpertAccess) throws {
        let d = config.hiddenSize
        let needed = routed.ffnExpertsNeeded
        var experts: [FFNExpert] = []
        experts.reserveCapacity(needed.count)
        defer { for e in needed.prefix(experts.count) { access.release(e) } }
        for e in needed { experts.append(try access.acquire(e)) }
        let counts = needed.map { routed.assignments[$0].count }
        let batchRows = counts.reduce(0, +)
        let inner = zip(experts, counts).reduce(0) { $0 + $1.0.intermediateSize * $1.1 }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 2 * batchRows * d + 2 * inner)
        defer { buffer.deallocate() }
        let batch = buffer, outputs = batch + batchRows * d, gated = outputs + batchRows * d, upped = gated + inner
        var row = 0
        for e in needed {
            for item in routed.assignments[e] {
                let scale = routed.inputScale[item.token]
                for i in 0..<d { batch[row * d + i] = x[item.token * d + i] * scale }
                row += 1
            }
        }
        var products: [MatmulProduct] = []
        products.reserveCapacity(2 * experts.count)
        var (rowStart, innerStart) = (0, 0)
        for (expert, n) in zip(experts, counts) {
            products.append(MatmulProduct(expert.gate, batch + rowStart * d, tokens: n, gated + innerStart))
            products.append(MatmulProduct(expert.up, batch + rowStart * d, tokens: n, upped + innerStart))
            (rowStart, innerStart) = (rowStart + n, innerStart + n * expert.intermediateSize)
        }
        Kernels.matmuls(products)
        Kernels.siluMultiply(gated, upped, gated, inner)
        products.removeAll(keepingCapacity: true)
        (rowStart, innerStart) = (0, 0)
        for (expert, n) in zip(experts, counts) {
            products.append(MatmulProduct(expert.down, gated + innerStart, tokens: n, outputs + rowStart * d))
            (rowStart, innerStart) = (rowStart + n, innerStart + n * expert.intermediateSize)
        }
        Kernels.matmuls(products)
        rowStart = 0
        routed.hidden.withUnsafeMutableBufferPointer { output in
            for e in needed {
                for (r, item) in routed.assignments[e].enumerated() {
                    Kernels.addScaled(outputs + (rowStart + r) * d, item.weight, output.baseAddress! + item.token * d, d)
                }
                rowStart += routed.assignments[e].count
            }
        }
    }
}
