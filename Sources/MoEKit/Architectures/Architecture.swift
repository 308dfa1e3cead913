/// A model family: what its `config.json` says, what its tensors are called, and how a layer's
/// feed-forward is built from a tensor source. One file per family implements this; the
/// registry below is the only list of families. Adding a family = one new file + one line there.
///
/// The LLaMA-style skeleton every family shares (embedding, RMSNorms, attention q/k/v/o, final
/// norm, lm_head, and the common config keys) lives in ModelConfig, TensorNames and Transformer.
public protocol Architecture: Sendable {
    var family: ModelFamily { get }
    /// `model_type` values (lower-case) read as this family.
    var modelTypes: [String] { get }
    /// The model class transformers-style loaders find in config.json's `architectures`.
    var transformersClass: String { get }
    /// Reads config.json: the common keys through `ModelConfig.decodeCommon`, then the family's own.
    func decodeConfig(_ json: JSONFields) throws -> ModelConfig
    /// The family's own config.json keys when writing (after the common ones), as JSON literals.
    func configFields(_ config: ModelConfig) -> [(key: String, value: String)]
    /// Sets the family's fixed traits on a freshly made config (MoE++: gating residual, its own
    /// gating rule; OLMoE: q/k norm), so configs built in code and decoded ones agree.
    func applyDefaults(to config: inout ModelConfig)
    /// Blocks per `model.layers.N` of the checkpoint: 1, or 2 for LongCat-Flash, whose layers
    /// each hold two attention + FFN sublayers (moepp's blocks and KV-cache layers are sublayers).
    var sublayersPerLayer: Int { get }
    /// The two RMSNorm weights of block `l` (before attention, before the feed-forward).
    func normNames(layer: Int) -> (input: String, postAttention: String)
    /// Every attention tensor of layer `l` (between its input norm and post-attention norm).
    func attentionEntries(layer: Int, config: ModelConfig) -> [CheckpointLayout.Entry]
    /// The layer's attention from tensor views (default: q/k/v/o with the config's variants).
    func buildAttention(layer: Int, config: ModelConfig, weights: CheckpointWeights) throws -> any SelfAttention
    /// The kind of each of the router's `experts` slots.
    func expertKinds(experts: Int) -> [ExpertKind]
    func routerName(layer: Int) -> String
    func expertNames(layer: Int, expert: Int) -> ExpertTensorNames
    /// Every feed-forward tensor of layer `layer` (router, experts, family extras).
    func feedForwardEntries(layer: Int, config: ModelConfig) -> [CheckpointLayout.Entry]
    /// The layer's MoE from tensor views (no copies of matrices).
    func buildMoE(layer: Int, config: ModelConfig, weights: CheckpointWeights) throws -> MoELayer
    /// The layer's feed-forward: dense, MoE, or MoE + shared experts (default: `buildMoE`).
    func buildFeedForward(layer: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FeedForward
    /// A config whose `model_type` no family lists may still be this family's (MoE++'s release
    /// spells it in several ways); false unless a family says so.
    func claimsUnlisted(modelType: String, json: JSONFields) -> Bool
}

/// Where an FFN expert's three matrices are: gate and up apart (Mixtral, OLMoE) or fused in one
/// (2I)×d tensor with the gate rows first (MoE++).
public struct ExpertTensorNames: Sendable, Equatable {
    public enum GateUp: Sendable, Equatable {
        case separate(gate: String, up: String)
        case fused(String)
    }
    public var gateUp: GateUp
    public var down: String
}

/// The families moepp reads, by `model_type`.
public enum ArchitectureRegistry {
    public static let all: [any Architecture] = [
        MoEPlusPlusArchitecture(),
        MixtralArchitecture(),
        OLMoEArchitecture(),
        Qwen2MoEArchitecture(),
        Qwen3MoEArchitecture(),
        GraniteMoEArchitecture(),
        DeepSeekV2Architecture(),
        DeepSeekV3Architecture(),
        LongCatFlashArchitecture(),
    ]

    public static func architecture(modelType: String) -> (any Architecture)? {
        all.first { $0.modelTypes.contains(modelType.lowercased()) }
    }

    public static func architecture(of family: ModelFamily) -> (any Architecture)? {
        all.first { $0.family == family }
    }

    static func architecture(for json: JSONFields) throws -> any Architecture {
        let modelType = try json.string("model_type", default: "")
        if let known = architecture(modelType: modelType) { return known }
        if let claimed = all.first(where: { $0.claimsUnlisted(modelType: modelType, json: json) }) { return claimed }
        let names = all.map { $0.modelTypes[0] }.joined(separator: ", ")
        throw json.fail("model_type", "unsupported model type \"\(modelType)\" (moepp reads: \(names))")
    }
}

/// A family's name, as `config.json`'s `model_type` spells it (its first spelling). Only families
/// in the registry exist; each family's file declares its constant (`.moepp`, `.mixtral`, …).
public struct ModelFamily: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// A registered family by name (any of its `model_type` spellings), else nil.
    public init?(rawValue: String) {
        guard let architecture = ArchitectureRegistry.architecture(modelType: rawValue) else { return nil }
        self = architecture.family
    }

    init(registered name: String) { rawValue = name }

    public var architecture: any Architecture {
        guard let found = ArchitectureRegistry.architecture(of: self) else {
            fatalError("family \(rawValue) is declared but not in ArchitectureRegistry.all")
        }
        return found
    }

    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let family = ModelFamily(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown model family \(text.quotedForMessage)"))
        }
        self = family
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension Architecture {
    public func claimsUnlisted(modelType: String, json: JSONFields) -> Bool { false }

    public func applyDefaults(to config: inout ModelConfig) {}

    public var sublayersPerLayer: Int { 1 }

    public func normNames(layer l: Int) -> (input: String, postAttention: String) {
        ("model.layers.\(l).input_layernorm.weight", "model.layers.\(l).post_attention_layernorm.weight")
    }

    /// q/k/v/o projections, with biases and q/k norms where the config has them.
    public func attentionEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        let names = TensorNames(family: config.family)
        let d = config.hiddenSize
        var entries: [CheckpointLayout.Entry] = []
        for (projection, rows, cols) in [("q_proj", config.queryDim, d), ("k_proj", config.keyValueDim, d),
                                         ("v_proj", config.keyValueDim, d), ("o_proj", d, config.queryDim)] {
            entries.append(.init(name: names.attention(l, projection), shape: [rows, cols], role: .attention, expert: nil))
        }
        if config.attentionBias {
            for (projection, count) in [("q_proj", config.queryDim), ("k_proj", config.keyValueDim), ("v_proj", config.keyValueDim)] {
                entries.append(.init(name: names.attentionBias(l, projection), shape: [count], role: .attention, expert: nil))
            }
        }
        if config.queryKeyNorm {
            entries.append(.init(name: names.queryNorm(l), shape: [config.queryKeyNormWidth.query], role: .norm, expert: nil))
            entries.append(.init(name: names.keyNorm(l), shape: [config.queryKeyNormWidth.key], role: .norm, expert: nil))
        }
        return entries
    }

    public func buildAttention(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> any SelfAttention {
        let names = TensorNames(family: config.family)
        let d = config.hiddenSize
        return Attention(
            config: config,
            query: try weights.matrix(names.attention(l, "q_proj"), rows: config.queryDim, cols: d),
            key: try weights.matrix(names.attention(l, "k_proj"), rows: config.keyValueDim, cols: d),
            value: try weights.matrix(names.attention(l, "v_proj"), rows: config.keyValueDim, cols: d),
            output: try weights.matrix(names.attention(l, "o_proj"), rows: d, cols: config.queryDim),
            queryNorm: config.queryKeyNorm ? try weights.vector(names.queryNorm(l), count: config.queryKeyNormWidth.query) : nil,
            keyNorm: config.queryKeyNorm ? try weights.vector(names.keyNorm(l), count: config.queryKeyNormWidth.key) : nil,
            biases: config.attentionBias ? (try weights.vector(names.attentionBias(l, "q_proj"), count: config.queryDim),
                                            try weights.vector(names.attentionBias(l, "k_proj"), count: config.keyValueDim),
                                            try weights.vector(names.attentionBias(l, "v_proj"), count: config.keyValueDim)) : nil)
    }

    /// Vanilla MoE: every slot an FFN expert.
    public func expertKinds(experts: Int) -> [ExpertKind] { (0..<experts).map { .ffn($0) } }

    /// Vanilla MoE: a linear router and SwiGLU experts.
    public func feedForwardEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        [CheckpointLayout.Entry(name: routerName(layer: l), shape: [config.numExperts, config.hiddenSize], role: .router, expert: nil)]
            + expertEntries(layer: l, config: config)
    }

    public func buildFeedForward(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FeedForward {
        .moe(try buildMoE(layer: l, config: config, weights: weights))
    }

    /// The layer's routed FFN experts' tensors, in expert order.
    public func expertEntries(layer l: Int, config: ModelConfig) -> [CheckpointLayout.Entry] {
        (0..<config.numFFNExperts).flatMap { e in
            ffnEntries(expertNames(layer: l, expert: e), inner: config.intermediateSize, config: config, role: .ffnExpert, expert: e)
        }
    }

    public func buildMoE(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> MoELayer {
        MoELayer(config: config, layerIndex: l, router: try linearRouter(layer: l, config: config, weights: weights),
                 ffnExperts: try loadFFNExperts(layer: l, config: config, weights: weights), constantExperts: [])
    }

    /// A one-matrix router (E×d at `routerName`), with the score-correction bias at `biasName`
    /// when the config chooses on score + bias.
    public func linearRouter(layer l: Int, config: ModelConfig, weights: CheckpointWeights, biasName: String? = nil) throws -> Router {
        var router = Router(projection: .linear(try weights.matrix(routerName(layer: l), rows: config.numExperts, cols: config.hiddenSize)),
                            residual: nil)
        if config.scoreCorrectionBias, let biasName {
            router.scoreCorrectionBias = try weights.vector(biasName, count: config.numExperts)
        }
        return router
    }

    /// The layer's FFN experts as views of the checkpoint.
    public func loadFFNExperts(layer l: Int, config: ModelConfig, weights: CheckpointWeights) throws -> [FFNExpert] {
        weights.loadingRoutedExperts = true
        defer { weights.loadingRoutedExperts = false }
        return try (0..<config.numFFNExperts).map { e in
            try loadFFN(expertNames(layer: l, expert: e), inner: config.intermediateSize, config: config, weights: weights)
        }
    }

    /// One SwiGLU FFN of width `inner` (a routed expert, a shared expert or a dense layer's MLP).
    public func loadFFN(_ names: ExpertTensorNames, inner: Int, config: ModelConfig, weights: CheckpointWeights) throws -> FFNExpert {
        let d = config.hiddenSize
        let down = try weights.matrix(names.down, rows: d, cols: inner)
        switch names.gateUp {
        case .fused(let name):
            let fused = try weights.matrix(name, rows: 2 * inner, cols: d)
            return FFNExpert(gate: fused.rowSlice(0..<inner), up: fused.rowSlice(inner..<2 * inner), down: down)
        case .separate(let gate, let up):
            return FFNExpert(gate: try weights.matrix(gate, rows: inner, cols: d), up: try weights.matrix(up, rows: inner, cols: d), down: down)
        }
    }

    /// Layout entries of one SwiGLU FFN stored as three matrices (`role` says what it is).
    public func ffnEntries(_ names: ExpertTensorNames, inner: Int, config: ModelConfig, role: CheckpointLayout.Role,
                           expert: Int?) -> [CheckpointLayout.Entry] {
        let d = config.hiddenSize
        var entries: [CheckpointLayout.Entry] = []
        switch names.gateUp {
        case .fused(let name):
            entries.append(.init(name: name, shape: [2 * inner, d], role: role, expert: expert))
        case .separate(let gate, let up):
            entries.append(.init(name: gate, shape: [inner, d], role: role, expert: expert))
            entries.append(.init(name: up, shape: [inner, d], role: role, expert: expert))
        }
        entries.append(.init(name: names.down, shape: [d, inner], role: role, expert: expert))
        return entries
    }
}
