import Foundation

/// Quitting never loses a conversation: the session (a `PlaygroundSession`, what `/save`
/// writes and `/load` reads) is saved after every reply and on quit to `$XDG_STATE_HOME/moepp/last-session.json`
/// (`~/.local/state/moepp/…` without it), and the path is shown on exit. A session with no
/// turns saves nothing, so opening and closing the playground keeps the previous save.
public enum SessionAutosave {
    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/moepp/last-session.json" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.local/state/moepp/last-session.json" }
        return nil
    }

    /// Writes the session to `path` (replacing the last save; never a non-regular file there).
    /// Returns false when there was nothing to save.
    @discardableResult
    public static func save(_ state: PlaygroundState, to path: String) throws -> Bool {
        guard !state.turns.isEmpty else { return false }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try state.session().save(to: path, replace: true)
        return true
    }
}
