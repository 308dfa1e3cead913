import Foundation

/// A routing trace: per token, per layer, what the router chose — recorded by moepp (the
/// playground's `/export`, `moepp route`) or imported from another engine. Everything that
/// looks at routing without a model (`moepp stats`, `moepp view`, the statistics screen) takes
/// one of these; a saved session is one more source of it (see `TraceReader`).
public struct RoutingTrace: Sendable {
    /// Where the routing came from; it decides which fields the records can carry.
    public enum Source: String, Codable, Sendable, CaseIterable {
        /// moepp itself: every field of `LayerRouting`.
        case moepp
        /// Hugging Face transformers' `router_logits` (Scripts/hf_router_logits_trace.py):
        /// logits, probabilities, chosen ids and weights; no zero-computation kinds, no residual.
        case transformers
        /// vLLM's / SGLang's routed-expert arrays: chosen ids only.
        case vllm, sglang
    }

    /// One exchange, as the chat shows it.
    public struct Turn: Codable, Sendable, Equatable {
        public var prompt: String
        public var reply: String
        public init(prompt: String, reply: String) { self.prompt = prompt; self.reply = reply }
    }

    public var source: Source
    /// The model's name or id ("" when the source does not say): names the on-disk usage file.
    public var model: String
    public var turns: [Turn]
    public var tokens: [TokenRouting]
    /// Router slots per layer: the widest probability vector, or the highest chosen id + 1,
    /// unless the trace (or the importer's caller) says more.
    public var experts: Int

    public init(source: Source, model: String, turns: [Turn] = [], tokens: [TokenRouting], experts: Int? = nil) {
        self.source = source
        self.model = model
        self.turns = turns
        self.tokens = tokens
        self.experts = max(experts ?? 0, Self.expertsSeen(tokens))
    }

    /// Layers in the trace (the longest token's).
    public var layers: Int { tokens.map(\.layers.count).max() ?? 0 }

    /// The most slots any token filled at a layer: the top-k the trace was routed with.
    public var topK: Int { tokens.flatMap(\.layers).map(\.chosen.count).max() ?? 0 }

    /// What the records carry, so views can say what they cannot show.
    public var hasProbabilities: Bool { tokens.contains { $0.layers.contains { !$0.probabilities.isEmpty } } }
    public var hasWeights: Bool { tokens.contains { $0.layers.contains { $0.chosen.contains { $0.weight.isFinite } } } }
    public var hasTokenText: Bool { tokens.contains { !$0.text.isEmpty } }
    public var hasTokenIds: Bool { tokens.contains { $0.tokenId >= 0 } }
    /// True when some chosen slot is a zero-computation expert (only moepp records them).
    public var hasZeroComputationKinds: Bool { tokens.contains { $0.layers.contains { $0.chosen.contains { !$0.kind.isFFN } } } }

    static func expertsSeen(_ tokens: [TokenRouting]) -> Int {
        var widest = 0
        for token in tokens {
            for layer in token.layers {
                widest = max(widest, layer.probabilities.count, (layer.chosen.map(\.index).max() ?? -1) + 1)
            }
        }
        return widest
    }

    /// The routing shape as a model configuration, for views that ask a model what its experts
    /// are: MoE++'s slot layout (FFN, 2 constants, copy, zero) when the trace routed to
    /// zero-computation experts, else E FFN experts. Only the routing fields mean anything; the
    /// sizes of the (absent) weights are placeholders.
    public func routingConfig() -> ModelConfig {
        let family: ModelFamily = hasZeroComputationKinds && experts >= 5 ? .moepp : .mixtral
        var config = ModelConfig(family: family, vocabSize: 1, hiddenSize: 2, intermediateSize: 1, numLayers: max(1, layers),
                                 numHeads: 1, numKeyValueHeads: 1, numExperts: max(1, experts), topK: max(1, min(topK, max(1, experts))))
        config.sharedExperts = tokens.flatMap(\.layers).map(\.shared.count).max() ?? 0
        config.denseLayers = Set((0..<layers).filter { layer in
            tokens.allSatisfy { layer >= $0.layers.count || ($0.layers[layer].chosen.isEmpty && !$0.layers[layer].shared.isEmpty) }
        })
        if source != .moepp { config.hasGatingResidual = false }
        return config
    }
}

extension RoutingTrace {
    /// moepp's trace document (README, "Routing trace format"): what `moepp view` and
    /// `moepp stats` read back, whatever the trace was imported from.
    struct Document: Encodable {
        let format = "moepp-trace"
        let version = 1
        let source: Source
        let model: String
        let experts: Int
        let turns: [Turn]
        let tokens: [TokenRouting]
    }

    public func documentData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(Document(source: source, model: model, experts: experts, turns: turns, tokens: tokens))
    }
}
