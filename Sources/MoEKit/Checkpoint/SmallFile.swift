import Foundation

/// Reads a small text file (config.json, an index, a tokenizer) safely: only regular files (a
/// FIFO or device in place of config.json would otherwise block or stream forever), at most
/// `maximumBytes`, with one-line errors naming the file.
public enum SmallFile {
    /// Opens `path` for reading if it is a regular file; the caller closes the descriptor.
    /// O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    public static func openRegular(_ path: String) throws -> (descriptor: Int32, size: Int) {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw CheckpointError(file: path, errno == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw CheckpointError(file: path, "not a regular file")
        }
        return (descriptor, Int(status.st_size))
    }

    public static func contents(_ path: String, maximumBytes: Int = 1 << 30) throws -> Data {
        let (descriptor, size) = try openRegular(path)
        defer { close(descriptor) }
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
