import Foundation

/// One tensor of a checkpoint file being written.
public struct PlannedTensor: Sendable {
    public let name: String
    public let format: WeightFormat
    public let shape: [Int]

    public init(name: String, format: WeightFormat, shape: [Int]) {
        self.name = name
        self.format = format
        self.shape = shape
    }

    public var byteCount: Int { format.byteCount(shape: shape) }
}

/// A checkpoint file written tensor by tensor, each in chunks, so that a 600 MB shard is never
/// held in memory. The tensors are known up front (formats whose header comes first need them);
/// `write` must then be called for each, in plan order, and `finish` once. The file appears under
/// its name only when finished (written as `path.partial`, then renamed).
public protocol StreamingTensorWriter: AnyObject {
    /// `fill(buffer, byteOffset)` writes the tensor's bytes from `byteOffset` into `buffer`.
    func write(_ tensor: PlannedTensor, fill: (UnsafeMutableRawBufferPointer, Int) -> Void) throws
    func finish() throws
}

/// Produces `count` bytes with `fill(buffer, byteOffset)` through one reused buffer of at most
/// 4 MiB, handing each filled chunk to `write`: how every streaming writer emits a tensor.
func streamInChunks(count: Int, fill: (UnsafeMutableRawBufferPointer, Int) -> Void,
                    write: (UnsafeRawBufferPointer) throws -> Void) throws {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(4 << 20, max(count, 1)), alignment: 64)
    defer { buffer.deallocate() }
    var offset = 0
    while offset < count {
        let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, count - offset)])
        fill(part, offset)
        try write(UnsafeRawBufferPointer(part))
        offset += part.count
    }
}

/// An output file written through a buffered descriptor, with one-line errors naming the file.
final class OutputFile {
    let path: String
    let temporaryPath: String
    private let descriptor: Int32
    private(set) var position = 0
    private var committed = false

    init(path: String) throws {
        self.path = path
        temporaryPath = path + ".partial"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw CheckpointError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
    }

    /// A writer dropped before `commit` (an error, an interrupted conversion) takes its
    /// half-written `.partial` file with it rather than leaving gigabytes behind.
    deinit {
        if descriptor >= 0 { close(descriptor) }
        if !committed { unlink(temporaryPath) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let count = Foundation.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw CheckpointError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
            done += count
        }
        position += bytes.count
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Streams `count` bytes produced by `fill` through one reused 4 MiB buffer.
    func stream(count: Int, fill: (UnsafeMutableRawBufferPointer, Int) -> Void) throws {
        try streamInChunks(count: count, fill: fill, write: write)
    }

    /// Flushes to disk, drops the file's pages from the page cache (`WrittenPages`), and moves the
    /// file into place.
    func commit() throws {
        guard fsync(descriptor) == 0 else { throw CheckpointError(file: path, "cannot sync: \(String(cString: strerror(errno)))") }
        WrittenPages.release(descriptor)
        guard rename(temporaryPath, path) == 0 else {
            throw CheckpointError(file: path, "cannot rename into place: \(String(cString: strerror(errno)))")
        }
        committed = true
        SafeFileWrite.syncDirectory(containing: path)
    }
}

/// `.safetensors` written as a stream: the header (all offsets) from the plan, then the data.
public final class SafeTensorsStreamWriter: StreamingTensorWriter {
    private let output: OutputFile
    private var pending: [PlannedTensor]

    public init(path: String, plan: [PlannedTensor], metadata: [String: String] = [:]) throws {
        if let block = plan.first(where: { $0.format.elementsPerBlock > 1 }) {
            throw CheckpointError(file: path, "tensor '\(block.name)': safetensors cannot hold \(block.format.name) blocks")
        }
        output = try OutputFile(path: path)
        pending = plan
        try output.write(safeTensorsHeader(plan.map { ($0.name, $0.format, $0.shape, $0.byteCount) }, metadata: metadata))
    }

    public func write(_ tensor: PlannedTensor, fill: (UnsafeMutableRawBufferPointer, Int) -> Void) throws {
        guard let next = pending.first, next.name == tensor.name else {
            throw CheckpointError(file: output.path, "tensor '\(tensor.name)' written out of plan order")
        }
        pending.removeFirst()
        try output.stream(count: tensor.byteCount, fill: fill)
    }

    public func finish() throws {
        guard pending.isEmpty else { throw CheckpointError(file: output.path, "\(pending.count) planned tensors never written") }
        try output.commit()
    }
}
