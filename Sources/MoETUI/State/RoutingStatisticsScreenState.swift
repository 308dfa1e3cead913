import Foundation
import MoEKit

/// The statistics screen (F12, `/stats`): which heat map it shows and the selected layer × expert.
/// The numbers themselves are the engine's (`MoEKit/Analysis`), computed from the tokens on
/// screen when first drawn and kept in `cache` while the screen is open; the accumulated heat
/// map is read from disk when the screen opens.
public struct RoutingStatisticsScreenState: Sendable {
    public enum Scope: Sendable { case session, accumulated }

    public var scope = Scope.session
    public var layer = 0
    public var expert = 0
    /// This model's heat map on disk (nil: none yet, or no home directory).
    public var accumulated: ExpertUsageStore?
    /// Why the heat map on disk could not be read, for the screen to say.
    public var accumulatedProblem: String?
    /// The statistics already computed for the tokens on screen (shared by the copies of this
    /// state a key makes, so each frame finds what the last one computed).
    public let cache = RoutingStatisticsCache()

    public init(model: String, directory: String? = ExpertUsageStore.directory()) {
        guard let directory else { accumulatedProblem = "no HOME or XDG_CACHE_HOME: nothing accumulated"; return }
        do { accumulated = try ExpertUsageStore.load(model: model, directory: directory) } catch { accumulatedProblem = "\(error)" }
    }

    /// The tokens on screen as a trace (the session's, or the file `moepp view` opened).
    public static func trace(_ state: PlaygroundState) -> RoutingTrace {
        RoutingTrace(source: state.traceSource, model: state.modelName, tokens: state.tokens, experts: state.config.numExperts)
    }

    /// Adds the session's routing to the model's heat map on disk (on quit); a line saying why
    /// not when it could not, nil otherwise.
    public static func recordSession(_ state: PlaygroundState, directory: String? = ExpertUsageStore.directory()) -> String? {
        guard !state.tokens.isEmpty, let directory else { return nil }
        do {
            var store = try ExpertUsageStore.load(model: state.modelName, directory: directory)
            if store.add(trace(state)) { try store.save(directory: directory) }
            return nil
        } catch {
            return "routing statistics not saved: \(error)"
        }
    }
}
