import Foundation

/// Reads a small text file (config.json, an index, a tokenizer) safely: only regular files (a
/// FIFO or device in place of config.json would otherwise block or stream forever), at most
/// `maximumBytes`, with one-line errors naming the file.
public enum SmallFile {
    public static func contents(_ path: String, maximumBytes: Int = 1 << 30) throws -> Data {
        // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw CheckpointError(file: path, errno == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw CheckpointError(file: path, "cannot stat") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError(file: path, "not a regular file") }
        let size = Int(status.st_size)
        guard size <= maximumBytes else { throw CheckpointError(file: path, "\(size) bytes; larger than the \(maximumBytes) bytes such a file may have") }
        var data = Data(count: size)
        var done = 0
        try data.withUnsafeMutableBytes { buffer in
            while done < size {
                let count = read(descriptor, buffer.baseAddress! + done, size - done)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw CheckpointError(file: path, count == 0 ? "file shrank while reading" : "cannot read: \(String(cString: strerror(errno)))") }
                done += count
            }
        }
        return data
    }

    /// nil when the file does not exist; errors for anything else.
    public static func contentsIfPresent(_ path: String, maximumBytes: Int = 1 << 30) throws -> Data? {
        var status = stat()
        if lstat(path, &status) != 0 && errno == ENOENT { return nil }
        return try contents(path, maximumBytes: maximumBytes)
    }
}
