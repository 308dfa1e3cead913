import Foundation

/// Where tests write checkpoints, traces and runs: one directory per test process, removed when
/// the process exits, so that a test run leaves nothing behind in the system's temporary folder.
public enum ScratchSpace {
    /// The process's scratch directory, with a trailing "/".
    public static let directory: String = {
        let path = NSTemporaryDirectory() + "moepp-tests-\(getpid())-\(UUID().uuidString.prefix(8))/"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: ScratchSpace.directory) }
        return path
    }()
}
