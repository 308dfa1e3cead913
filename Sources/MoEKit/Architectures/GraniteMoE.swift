/// Granite-MoE (`model_type: "granitemoe"`, Granite-3.x 1B-A400M / 3B-A800M), read from
/// transformers 4.57's modeling_granitemoe.py:
/// - experts stored fused across the layer: `block_sparse_moe.input_linear.weight` [E, 2I, d]
///   (per expert, the first I rows are the gate, the next I the up projection) and
///   `output_linear.weight` [E, d, I]; each expert is a row range of the mapped tensor (no copy);
/// - router `block_sparse_moe.router.layer`: top-k on the logits, then a softmax over the k
///   (Mixtral's rule, which the gate computes as renormalised probabilities);
/// - the multipliers: embeddings × `embedding_multiplier`, each block's attention and MoE output ×
///   `residual_multiplier` before the residual add, attention scores × `attention_multiplier`
///   (instead of 1/√head_dim), logits ÷ `logits_scaling`.
public struct GraniteMoEArchitecture: Architecture {
    public var family: ModelFamily { .graniteMoE }
    public var modelTypes: [String] { ["granitemoe"] }
    public var transformersClass: String { "GraniteMoeForCausalLM" }

    public func decodeConfig(_ json: JSONFields) throws -> ModelConfig {
        var config = try ModelConfig.decodeCommon(json, family: family, experts: try json.int("num_local_experts", default: 8, maximum: 1 << 16),
                                                  topK: try json.int("num_experts_per_tok", default: 2), topKKey: "num_experts_per_tok")
        // attention_bias would add q/k/v and o_proj biases, which no released Granite-MoE has.
        if try json.bool("attention_bias", default: false) {
            throw json.fail("attention_bias", "attention biases are not implemented for granitemoe (expected false)")
        }
        let positions = try json.string("position_embedding_type", default: "rope")
        guard positions == "rope" else { throw json.fail("position_embedding_type", "only \"rope\" is supported, found \"\(positions)\"") }
        config.embeddingMultiplier = Float(try json.double("embedding_multiplier", default: 1))
        config.residualMultiplier = Float(try json.double("residual_multiplier", default: 1))
        config.attentionScale = Float(try json.double("attention_multiplier", default: 1))
        config.logitsScaling = Float(try json.double("logits_scaling", default: 1))
        return config
    }

    public func configFields(_ config: ModelConfig) -> [(key: String, value: String)] {
        [("num_local_experts", "\(config.numExperts)"), ("num_experts_per_tok", "\(config.topK)"), ("attention_bias", "false"),
         ("embedding_multiplier", "\(config.embeddingMultiplier)"), ("residual_multiplier", "\(config.residualMultiplier)"),
         ("attention_multiplier", "\(config.attentionScale ?? 1 / Float(config.headDim).squareRoot())"),
         ("logits_scaling", "\(config.logitsScaling)")]
    }

    // MARK: Tensor names

    func moe(_ l: Int) -> String { "model.layers.\(l).block_sparse_moe." }
    public func routerName(layer l: Int) -> String { moe(l) + "router.layer.weight" }
    public func inputLinearName(layer l: Int) -> String { moe(l) + "input_linear.weight" }
    public func outputLinearName(layer l: Int) -> String { moe(l) + "output_linear.weight" }
    /// Not a Hugging Face name: half 0 (gate) or 1 (up) of every expert's `input_linear` rows, [E, I, d],
    /// as llama.cpp's converter stores them apart (GGUF `ffn_gate_exps` / `ffn_up_exps`).
    public func inputLinearHalfName(layer l: Int, half: Int) -> String { moe(l) + "input_linear.\(half == 0 ? "gate" : "up").weight" }

    /// Every expert of a layer shares the two stacked tensors; `feedForwardEntries` and
    /// `loadStackedExperts` address expert e within them.
    public func expertNames(layer l: Int, expert e: Int) -> ExpertTensorNames {
        ExpertTensorNames(gateUp: .fused(inputLinearName(layer: l)), down: outputLinearName(layer: l))
    }

    // MARK: Layout and loading

    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        let (d, inner, experts) = (config.hiddenSize, config.intermediateSize, config.numExperts)
        return [.init(name: routerName(layer: l), shape: [experts, d], role: .router, expert: nil),
                .init(name: inputLinearName(layer: l), shape: [experts, 2 * inner, d], role: .ffnExpert, expert: nil),
                .init(name: outputLinearName(layer: l), shape: [experts, d, inner], role: .ffnExpert, expert: nil)]
    }

    public func buildMoE(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> MoELayer {
        let router = Router(projection: .linear(try weights.matrix(routerName(layer: l), rows: config.numExperts, cols: config.hiddenSize)),
                            residual: nil)
        return MoELayer(config: config, layerIndex: l, router: router,
                        ffnExperts: try loadStackedExperts(layer: l, config: config, weights: weights), constantExperts: [])
    }

    /// Expert e: gate = input_linear[e][0..<I], up = input_linear[e][I..<2I], down = output_linear[e];
    /// or, where the halves are stored apart (a GGUF file), gate = half 0 [e], up = half 1 [e].
    func loadStackedExperts(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> [FFNExpert] {
        let (d, inner, experts) = (config.hiddenSize, config.intermediateSize, config.numFFNExperts)
        let output = try stacked(outputLinearName(layer: l), experts: experts, rows: d, cols: inner, weights: weights)
        let down = { (e: Int) in output.rowSlice(e * d..<(e + 1) * d) }
        guard weights.view(inputLinearName(layer: l)) != nil || weights.view(inputLinearHalfName(layer: l, half: 0)) == nil else {
            let gate = try stacked(inputLinearHalfName(layer: l, half: 0), experts: experts, rows: inner, cols: d, weights: weights)
            let up = try stacked(inputLinearHalfName(layer: l, half: 1), experts: experts, rows: inner, cols: d, weights: weights)
            return (0..<experts).map { e in
                FFNExpert(gate: gate.rowSlice(e * inner..<(e + 1) * inner), up: up.rowSlice(e * inner..<(e + 1) * inner), down: down(e))
            }
        }
        let input = try stacked(inputLinearName(layer: l), experts: experts, rows: 2 * inner, cols: d, weights: weights)
        return (0..<experts).map { e in
            let gateUp = input.rowSlice(e * 2 * inner..<(e + 1) * 2 * inner)
            return FFNExpert(gate: gateUp.rowSlice(0..<inner), up: gateUp.rowSlice(inner..<2 * inner), down: down(e))
        }
    }

    /// A [E, rows, cols] tensor viewed as one (E·rows)×cols matrix: expert e is rows e·rows…
    func stacked(_ name: String, experts: Int, rows: Int, cols: Int, weights: CheckpointWeights) throws -> WeightMatrix {
        let tensor = try weights.tensor(name, shape: [experts, rows, cols])
        guard tensor.format.canHoldRow(of: cols) else {
            throw CheckpointError(file: tensor.file.path, "tensor '\(name)': rows of \(cols) are not whole \(tensor.format.name) blocks")
        }
        let matrix = WeightMatrix(rows: experts * rows, cols: cols, format: tensor.format, base: tensor.base, owner: tensor.file)
        weights.loadingRoutedExperts = true
        defer { weights.loadingRoutedExperts = false }
        return try weights.interleavedIfChosen(matrix, name: name, file: tensor.file.path)
    }
}

extension ModelFamily {
    public static let graniteMoE = ModelFamily(registered: "granitemoe")
}
