import Foundation

/// Writes a file a user named (`/export`, the session autosave) without harming what is there:
/// only a regular file is ever written or replaced — never a device, FIFO, socket, directory or
/// symbolic link (the link is refused, not followed: replacing it would turn it into a file, and
/// writing through it would reach a file the user did not name); an existing file is replaced
/// only when the caller says so; the data goes to a temporary file beside the target, is
/// fsync'ed, then renamed over it (readers see the old file or the new one), and the directory
/// is fsync'ed so the rename survives a crash.
public enum SafeFileWrite {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case exists(String)
        case notRegular(String, what: String)
        case system(String, operation: String, code: Int32)

        public var description: String {
            switch self {
            case .exists(let path): return "\(path) exists"
            case let .notRegular(path, what): return "\(path) is \(what), not a regular file: refused"
            case let .system(path, operation, code): return "\(path): cannot \(operation): \(String(cString: strerror(code)))"
            }
        }
    }

    /// What is at `path` now: nil (nothing) or its mode; refuses anything but a regular file.
    static func existingMode(_ path: String) throws -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw Failure.system(path, operation: "inspect it", code: errno)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return info.st_mode & 0o7777
        case S_IFLNK: throw Failure.notRegular(path, what: "a symbolic link")
        case S_IFDIR: throw Failure.notRegular(path, what: "a directory")
        case S_IFCHR, S_IFBLK: throw Failure.notRegular(path, what: "a device")
        case S_IFIFO: throw Failure.notRegular(path, what: "a FIFO")
        case S_IFSOCK: throw Failure.notRegular(path, what: "a socket")
        default: throw Failure.notRegular(path, what: "not a file")
        }
    }

    /// True when a regular file is already at `path` (and nothing else is; see `write`).
    public static func exists(_ path: String) throws -> Bool { try existingMode(path) != nil }

    public static func write(_ data: Data, to path: String, replace: Bool) throws {
        let existing = try existingMode(path)
        if existing != nil && !replace { throw Failure.exists(path) }
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var template = Array((directory + "/." + (path as NSString).lastPathComponent + ".moepp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Failure.system(path, operation: "create a file in \(directory)", code: errno) }
        let temporary = String(cString: template)
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            // A replaced file keeps its permissions; a new one gets the usual 0666 less the umask.
            let mask = umask(0); umask(mask)
            _ = fchmod(fd, existing ?? (0o666 & ~mask))
            try data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 { if errno == EINTR { continue }; throw Failure.system(path, operation: "write", code: errno) }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw Failure.system(path, operation: "flush to disk", code: errno) }
        }
        // Checked again just before the rename: something may have appeared meanwhile.
        let now = try existingMode(path)
        if now != nil && !replace { throw Failure.exists(path) }
        guard rename(temporary, path) == 0 else { throw Failure.system(path, operation: "rename into place", code: errno) }
        renamed = true
        syncDirectory(containing: path)
    }

    /// After a rename into place: flushes the directory entry so the rename survives a crash
    /// (best effort — a directory that cannot be opened leaves the file written, just not durable).
    static func syncDirectory(containing path: String) {
        let parent = (path as NSString).deletingLastPathComponent
        let descriptor = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY)
        if descriptor >= 0 { _ = fsync(descriptor); close(descriptor) }
    }
}
