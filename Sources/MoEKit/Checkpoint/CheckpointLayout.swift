/// Every tensor a checkpoint of a given config holds, with its shape and role. The loader, the
/// fixture writer, `moepp inspect` (parameter counts) and the trainer's checkpoint writer all
/// derive from this one list.
public struct CheckpointLayout: Sendable {
    public enum Role: String, Sendable {
        case embedding, attention, norm, router, gatingResidual, ffnExpert, constantExpert, sharedExpert, denseFFN, lmHead
    }

    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let role: Role
        /// For expert tensors, the expert index within its layer.
        public let expert: Int?
        public var count: Int { shape.reduce(1, *) }
    }

    public let config: ModelConfig
    public let entries: [Entry]
    /// Indices into `entries` of each layer's tensors (contiguous, in layer order); the rest are
    /// the global tensors (embedding before, final norm and lm_head after).
    public let layerEntries: [Range<Int>]

    public init(config: ModelConfig) {
        self.config = config
        let names = TensorNames(family: config.family)
        let d = config.hiddenSize
        var entries: [Entry] = [Entry(name: TensorNames.embedding, shape: [config.vocabSize, d], role: .embedding, expert: nil)]
        var layerEntries: [Range<Int>] = []
        for l in 0..<config.numLayers {
            let first = entries.count
            defer { layerEntries.append(first..<entries.count) }
            entries.append(Entry(name: names.inputNorm(l), shape: [d], role: .norm, expert: nil))
            entries += config.family.architecture.attentionEntries(layer: l, config: config)
            entries.append(Entry(name: names.postAttentionNorm(l), shape: [d], role: .norm, expert: nil))
            entries += config.family.architecture.feedForwardEntries(layer: l, config: config)
        }
        entries.append(Entry(name: TensorNames.finalNorm, shape: [d], role: .norm, expert: nil))
        if !config.tieWordEmbeddings {
            entries.append(Entry(name: TensorNames.lmHead, shape: [config.vocabSize, d], role: .lmHead, expert: nil))
        }
        self.entries = entries
        self.layerEntries = layerEntries
    }

    public var totalParameters: Int { entries.reduce(0) { $0 + $1.count } }

    /// Parameters of one FFN expert (all layers' experts are the same size).
    public var parametersPerFFNExpert: Int { 3 * config.hiddenSize * config.intermediateSize }

    /// Parameters a token touches when every MoE layer runs `ffnExpertsPerLayer` FFN experts
    /// (embedding row and all of attention, norms, routers, constants, shared experts, dense
    /// layers and the lm_head count).
    public func activeParameters(ffnExpertsPerLayer: Double) -> Int {
        let nonExpert = entries.filter { $0.role != .ffnExpert && $0.role != .embedding }.reduce(0) { $0 + $1.count }
        return nonExpert + config.hiddenSize +
            Int(ffnExpertsPerLayer * Double((config.numLayers - config.denseLayers.count) * parametersPerFFNExpert))
    }
}
