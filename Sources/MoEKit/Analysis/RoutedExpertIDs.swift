/// Routing as other engines record it: for each token and layer, the ids of the experts the
/// router chose, nothing else (vLLM's and SGLang's `--enable-return-routed-experts`).
/// `ids[token][layer][slot]`; an id of −1 marks a slot with no routed expert (SGLang-JAX's
/// placeholder for a dense layer).
public struct RoutedExpertIDs: Equatable, Sendable {
    public var ids: [[[Int]]]
    /// The first `promptTokens` rows are the prompt's, the rest generated.
    public var promptTokens: Int
    /// Vocabulary ids of the tokens, when the source returns them.
    public var tokenIds: [Int]?

    public init(ids: [[[Int]]], promptTokens: Int, tokenIds: [Int]? = nil) {
        self.ids = ids
        self.promptTokens = promptTokens
        self.tokenIds = tokenIds
    }

    /// As routing records: each chosen id an FFN expert with an unknown (NaN) weight; no logits,
    /// no probabilities, no zero-computation kinds — the source does not record them.
    public func trace(source: RoutingTrace.Source, model: String, experts: Int?) -> RoutingTrace {
        let tokens = ids.enumerated().map { position, layers in
            TokenRouting(position: position, tokenId: tokenIds.flatMap { position < $0.count ? $0[position] : nil } ?? -1, text: "",
                         phase: position < promptTokens ? "prompt" : "generated",
                         layers: layers.enumerated().map { layer, slots in Self.layer(layer, slots.filter { $0 >= 0 }) })
        }
        return RoutingTrace(source: source, model: model, tokens: tokens, experts: experts)
    }

    static func layer(_ layer: Int, _ chosen: [Int]) -> LayerRouting {
        LayerRouting(layer: layer, routerLogits: [], residualLogits: [], probabilities: [],
                     chosen: chosen.map { ChosenExpert(index: $0, kind: .ffn($0), weight: .nan) },
                     probabilitiesWithoutResidual: [], chosenWithoutResidual: chosen, ffnExpertsComputed: chosen.count,
                     predictedExperts: nil, cache: nil)
    }

    /// The chosen ids of a trace, back in the engines' shape (slots padded with −1 to the widest
    /// layer, so the array is rectangular as theirs are).
    public init(_ trace: RoutingTrace) {
        let width = trace.topK
        ids = trace.tokens.map { token in
            token.layers.map { layer in
                let chosen = layer.chosen.map(\.index)
                return chosen + Array(repeating: -1, count: max(0, width - chosen.count))
            }
        }
        promptTokens = trace.tokens.filter { $0.phase == "prompt" }.count
        tokenIds = trace.hasTokenIds ? trace.tokens.map(\.tokenId) : nil
    }
}
