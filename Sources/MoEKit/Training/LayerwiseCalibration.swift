/// Calibration's forward and backward run layer by layer over all batches, on a paged store:
/// each layer is materialised twice in all (once going up, once coming down) instead of twice
/// per batch, and only one layer's weights and activations are live at a time.
///
/// Going up, the block inputs of every layer and batch (and the router logits the next layer's
/// gating residual reads) are kept; coming down, each layer's forward is recomputed from its
/// kept input before its backward. Every batch sees exactly the `TrainingModel` maths (the same
/// `TrainingBlock`/`TrainingHead` calls on the same inputs), and per layer the batches are
/// summed in the same order, so the sums equal `TrainingModel`'s bit for bit. Weight gradients
/// are never needed, so they are not computed (activation gradients do not depend on them).
struct LayerwiseCalibration {
    let store: ParameterStore<Float>
    let batch: Int, length: Int
    var config: ModelConfig { store.config }

    struct Sums {
        /// Σ_batches Σ_t ‖∂ℓ_t/∂y_l‖²/d per layer.
        var outputGradientSquares: [Double]
        /// Σ‖E₁(x) − E₂(x)‖² per layer over the `differenceTokens` that chose two FFN experts.
        var differenceSums: [Double]
        var differenceTokens: [Int]
    }

    func block(_ l: Int) -> TrainingBlock<Float> {
        TrainingBlock(config: config, layer: l, batch: batch, length: length, balanceCoefficient: 0, tau: 0, weightGradients: false)
    }

    func copy(_ buffer: Buffer<Float>) -> Buffer<Float> {
        let result = Buffer<Float>(buffer.count)
        result.p.update(from: buffer.p, count: buffer.count)
        return result
    }

    /// `batches`: B·T input ids and their next-token targets each.
    func run(_ batches: [(inputs: [Int], targets: [Int])], log: (String) -> Void) throws -> Sums {
        let (layers, n, d) = (config.numLayers, batch * length, config.hiddenSize)
        var sums = Sums(outputGradientSquares: .init(repeating: 0, count: layers), differenceSums: .init(repeating: 0, count: layers),
                        differenceTokens: .init(repeating: 0, count: layers))
        // hidden[l][b]: layer l's input for batch b (hidden[layers]: the last block's output).
        var hidden: [[Buffer<Float>]] = [batches.map { item in
            let x = Buffer<Float>(n * d)
            TrainingHead.embed(item.inputs, into: x, store)
            return x
        }]
        var logits: [[Buffer<Float>]] = []
        let scratch = Buffer<Float>(n * d)
        for l in 0..<layers {
            try store.materialize(layer: l)
            let block = block(l)
            var outputs: [Buffer<Float>] = [], layerLogits: [Buffer<Float>] = []
            for b in batches.indices {
                let x = copy(hidden[l][b])
                block.forward(x, scratch: scratch, previousLogits: l > 0 ? logits[l - 1][b] : nil, store)
                let (sum, count) = block.moe.expertDifference()
                sums.differenceSums[l] += sum
                sums.differenceTokens[l] += count
                outputs.append(x)
                layerLogits.append(copy(block.moe.logits))
            }
            hidden.append(outputs)
            logits.append(layerLogits)
            store.release(layer: l)
            log("forward: layer \(l + 1)/\(layers)")
        }
        let head = TrainingHead<Float>(config: config, rows: n, weightGradients: false)
        let dx: [Buffer<Float>] = batches.indices.map { b in
            _ = head.forward(hidden[layers][b], targets: batches[b].targets, store)
            let gradient = Buffer<Float>(n * d)
            head.backward(into: gradient, store)
            return gradient
        }
        hidden.removeLast()
        let dRouterLogits = batches.map { _ in Buffer<Float>(n * config.numExperts) }
        let dBranch = Buffer<Float>(n * d)
        for l in stride(from: layers - 1, through: 0, by: -1) {
            try store.materialize(layer: l)
            let block = block(l)
            for b in batches.indices {
                block.forward(copy(hidden[l][b]), scratch: scratch, previousLogits: l > 0 ? logits[l - 1][b] : nil, store)
                sums.outputGradientSquares[l] += TrainingBlock.outputGradientSquares(dx[b], rows: n, width: d)
                block.backward(dx[b], dBranch: dBranch, dRouterLogits: dRouterLogits[b], store)
            }
            store.release(layer: l)
            hidden[l] = []
            logits[l] = []
            log("backward: layer \(l + 1)/\(layers)")
        }
        return sums
    }
}
