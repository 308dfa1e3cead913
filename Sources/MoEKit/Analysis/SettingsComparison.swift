import Foundation

/// One side of an A/B replay: the reply, its routing and its speed.
public struct ReplaySide: Sendable, Codable {
    /// The setting as typed (`key=value,…`, or "same").
    public var setting: String
    /// The side's settings as typed values: the playground's own session record (the replay's
    /// reply length as `maxTokens`; no `adaptiveEpsilon`, which a replay is not given).
    public var settings: SessionSettings
    public var text: String
    /// Generated token ids, in order (EOS not included), and the text each one added.
    public var tokenIds: [Int]
    public var pieces: [String]
    /// Why the reply ended ("eos", "max_tokens", "stopped", "context_full").
    public var finish: String
    /// FFN experts run per token, summed over layers, averaged over every token of the trace
    /// (prompt and reply): what a setting costs in expert computation.
    public var ffnExpertsPerToken: Double
    /// Decode tokens per second, one figure per run (A and B are run interleaved).
    public var decodeRates: [Double]
    /// Routing of every position: the prompt's tokens, then each generated token as it is fed back.
    public var trace: [TokenRouting]

    public var medianDecodeRate: Double {
        let sorted = decodeRates.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// How one layer's choices changed between A and B over the compared positions.
public struct LayerChange: Sendable, Codable, Equatable {
    public var layer: Int
    public var changed: Int { didSet { share = Self.share(changed, compared) } }
    public var compared: Int
    /// changed / compared (0 when nothing was compared); stored so that JSON carries it.
    public private(set) var share: Double

    public init(layer: Int, changed: Int, compared: Int) {
        self.layer = layer
        self.changed = changed
        self.compared = compared
        share = Self.share(changed, compared)
    }

    static func share(_ changed: Int, _ compared: Int) -> Double { compared > 0 ? Double(changed) / Double(compared) : 0 }
}

/// The same prompt under two settings, side by side.
public struct SettingsComparison: Sendable, Codable {
    public var prompt: String
    public var promptTokens: Int
    public var a: ReplaySide
    public var b: ReplaySide
    /// Index into the generated tokens of the first one that differs (or where one reply ends
    /// and the other goes on); nil when the replies are identical.
    public var divergence: Int?
    /// Positions whose routing is compared: the common prefix, `promptTokens + (divergence ??
    /// shorter reply)` — the positions where both sides have read exactly the same tokens.
    public var comparedPositions: Int
    public var layers: [LayerChange]

    /// The trace position of the first differing token, if any.
    public var divergencePosition: Int? { divergence.map { promptTokens + $0 } }

    /// Token-layers whose choice changed, over all layers.
    public var changedChoices: Int { layers.reduce(0) { $0 + $1.changed } }

    /// Builds the comparison from two finished sides.
    ///
    /// Changed choices, per layer l: over the common prefix of positions p < `comparedPositions`
    /// (both sides read identical tokens there, so any difference is the setting's doing), the
    /// token-layer (p, l) counts as changed when the *set* of experts it chose differs:
    ///   S(p, l) = { index of each chosen slot that was not dropped by adaptive gating }
    ///   changed_l = #{ p : S_A(p, l) ≠ S_B(p, l) },   share_l = changed_l / comparedPositions.
    /// Order and weights inside a set are ignored; always-on (shared) experts are not router
    /// choices and are left out; a dense layer chooses nothing, so it never changes.
    public init(prompt: String, promptTokens: Int, a: ReplaySide, b: ReplaySide) {
        self.prompt = prompt
        self.promptTokens = promptTokens
        self.a = a
        self.b = b
        let common = zip(a.tokenIds, b.tokenIds).prefix { $0 == $1 }.count
        divergence = common == a.tokenIds.count && common == b.tokenIds.count ? nil : common
        let compared = min(promptTokens + common, a.trace.count, b.trace.count)
        let layerCount = min(a.trace.first?.layers.count ?? 0, b.trace.first?.layers.count ?? 0)
        var layers = (0..<layerCount).map { LayerChange(layer: $0, changed: 0, compared: compared) }
        for position in 0..<compared {
            for layer in 0..<layerCount where Self.chosenSet(a.trace[position].layers[layer]) != Self.chosenSet(b.trace[position].layers[layer]) {
                layers[layer].changed += 1
            }
        }
        comparedPositions = compared
        self.layers = layers
    }

    /// A side's reply cut where the replies part: the text both share, then the side's own rest
    /// (all of it is common when the replies are identical).
    public func split(_ side: ReplaySide) -> (common: String, rest: String) {
        guard let divergence else { return (side.text, "") }
        let common = side.pieces.prefix(divergence).joined()
        // By scalars: a piece boundary may fall inside a character (an accent arriving alone).
        return (common, String(String.UnicodeScalarView(side.text.unicodeScalars.dropFirst(common.unicodeScalars.count))))
    }

    /// S(p, l) above.
    public static func chosenSet(_ routing: LayerRouting) -> Set<Int> {
        Set(routing.chosen.filter { !$0.dropped }.map(\.index))
    }
}
