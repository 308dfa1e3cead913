import Foundation
import MoEKit

/// The statistics the screen draws, computed once and reused by every frame that shows the same
/// tokens: a redraw for a key (arrows, Tab, a resize) costs a lookup, not a pass over the trace.
/// On a 4096-token × 48-layer × 128-expert trace in `moepp view` each pass took tens of
/// milliseconds, every frame (BENCHMARKS.md, "Statistics screen").
///
/// Keyed by the number of tokens: a cache lives with one opening of the screen, and while it is
/// open the tokens only grow (a reply streaming); anything that replaces them (`/load`, `/clear`,
/// `/retry`, `/model`) happens with the screen closed, and opening it makes a new cache.
/// The heat map in the accumulated scope is the store's own, so it needs no entry here.
/// Sendable by its lock (the package still builds for macOS 13, before `Mutex`).
public final class RoutingStatisticsCache: @unchecked Sendable {
    /// What one token count gives: the trace, its usage heat map and next-layer predictability.
    public struct TraceStatistics: Sendable {
        public let trace: RoutingTrace
        public let usage: ExpertUsage
        public let predictability: [NextLayerPredictability.Pair]
    }

    struct Stored {
        var tokens = -1
        var trace: TraceStatistics?
        var coActivation: [Int: CoActivation] = [:]
        var topTokens: [TopTokensKey: ExpertTopTokens] = [:]
    }

    struct TopTokensKey: Hashable { let layer: Int, expert: Int, limit: Int }

    private let lock = NSLock()
    private var stored = Stored()

    public init() {}

    /// Forgets everything when the token count moved on.
    private func entries<T>(_ tokens: Int, _ body: (inout Stored) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        if stored.tokens != tokens { stored = Stored(tokens: tokens) }
        return body(&stored)
    }

    /// The tokens on screen as a trace, with the statistics of the whole trace.
    public func trace(_ state: PlaygroundState) -> TraceStatistics {
        let count = state.tokens.count
        if let hit = entries(count, { $0.trace }) { return hit }
        let trace = RoutingStatisticsScreenState.trace(state)
        let computed = TraceStatistics(trace: trace, usage: ExpertUsage(trace), predictability: NextLayerPredictability(trace).pairs)
        entries(count) { $0.trace = computed }
        return computed
    }

    /// Which experts share tokens at `layer`.
    public func coActivation(_ trace: RoutingTrace, layer: Int) -> CoActivation {
        if let hit = entries(trace.tokens.count, { $0.coActivation[layer] }) { return hit }
        let computed = CoActivation(trace, layer: layer)
        entries(trace.tokens.count) { $0.coActivation[layer] = computed }
        return computed
    }

    /// The tokens `expert` fires on most at `layer`.
    public func topTokens(_ trace: RoutingTrace, layer: Int, expert: Int, limit: Int) -> ExpertTopTokens {
        let key = TopTokensKey(layer: layer, expert: expert, limit: limit)
        if let hit = entries(trace.tokens.count, { $0.topTokens[key] }) { return hit }
        let computed = ExpertTopTokens(trace, layer: layer, expert: expert, limit: limit)
        entries(trace.tokens.count) { $0.topTokens[key] = computed }
        return computed
    }
}
