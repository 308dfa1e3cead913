import Foundation
import MoEKit

/// `/save` (and its older name `/export`): the session — conversation, settings, routing trace —
/// as a `PlaygroundSession` file, written atomically by `SafeFileWrite`.
public enum TraceExport {
    /// Writes the session to `path`; an existing file only with `replace` (`/save! PATH`).
    public static func write(_ state: PlaygroundState, to path: String, replace: Bool = false) throws {
        try state.session().save(to: path, replace: replace)
    }

    /// `/save`'s effect: write, and say what happened in one line.
    public static func run(_ state: PlaygroundState, to path: String, replace: Bool) {
        do {
            try write(state, to: path, replace: replace)
            state.say("saved \(state.turns.count) turn\(state.turns.count == 1 ? "" : "s"), \(state.tokens.count) tokens to \(path)")
        } catch SafeFileWrite.Failure.exists(let existing) {
            state.say("\(existing) exists: /save! \(existing) replaces it", error: true)
        } catch {
            state.say("save failed: \(error)", error: true)
        }
    }
}
