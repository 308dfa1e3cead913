import Foundation

/// Writes a PyTorch `.bin` checkpoint that `torch.load(path, weights_only=True, mmap=True)` reads
/// as an `OrderedDict` of tensors, streaming: tensors are appended one at a time and their bytes
/// go to disk as they are produced, so a shard of hundreds of MB is never held in memory. Only
/// the pickle and the zip's central directory, both small, wait in memory until `finish()`.
///
/// The layout is torch.save's: one top-level folder ("archive", torch's name when saving to a
/// stream), a stored entry `data/<n>` per tensor on a 64-byte boundary, then `data.pkl`,
/// `.format_version`, `.storage_alignment`, `byteorder`, `version` and `.data/serialization_id`.
/// The file is written as `path + ".partial"` and renamed into place by `finish()`, so a reader
/// never sees a half-written checkpoint; a writer dropped before `finish()` removes it.
public final class TorchCheckpointWriter {
    public let path: String
    private let zip: ZipWriter
    private var tensors: [TorchStateDictPickle.Tensor] = []
    private var names: Set<String> = []
    private var state = State.open

    private enum State { case open, finished, failed }
    private static let folder = "archive/"
    private static let storageAlignment = 64

    public init(path: String) throws {
        self.path = path
        zip = try ZipWriter(path: path + ".partial")
    }

    /// For tests: writes zip64 records on a small file, the path a file past 4 GB takes.
    init(path: String, forceZip64: Bool) throws {
        self.path = path
        zip = try ZipWriter(path: path + ".partial")
        zip.forceZip64 = forceZip64
    }

    deinit {
        if state != .finished { unlink(zip.path) }
    }

    /// Appends a tensor whose little-endian bytes (`shape` elements of `format`, row-major)
    /// `produce` hands to `write` in chunks of any size; exactly the tensor's byte count must come.
    public func append(name: String, format: WeightFormat, shape: [Int],
                       produce: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try whileOpen {
            guard !names.contains(name) else { throw CheckpointError(file: path, "tensor \(name.quotedForMessage) appended twice") }
            guard format.elementsPerBlock == 1 else { throw CheckpointError(file: path, "tensor \(name.quotedForMessage): PyTorch storages cannot hold \(format.name) blocks") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw CheckpointError(file: path, "tensor \(name.quotedForMessage): negative size in shape \(shape)") }
            var count = 1
            for size in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow, !product.multipliedReportingOverflow(by: format.byteSize).overflow else {
                    throw CheckpointError(file: path, "tensor \(name.quotedForMessage): shape \(shape) is too large")
                }
                count = product
            }
            let key = String(tensors.count)
            try zip.addEntry(name: Self.folder + "data/" + key, size: count * format.byteSize, alignment: Self.storageAlignment, produce: produce)
            names.insert(name)
            tensors.append(.init(name: name, format: format, shape: shape, storageKey: key))
        }
    }

    public func append(name: String, format: WeightFormat, shape: [Int], bytes: UnsafeRawBufferPointer) throws {
        try append(name: name, format: format, shape: shape) { write in try write(bytes) }
    }

    public func append(name: String, format: WeightFormat, shape: [Int], bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append(name: name, format: format, shape: shape, bytes: $0) }
    }

    /// Copies a tensor from another source (safetensors, another `.bin`), as it is.
    public func append(_ tensor: TensorView, as name: String? = nil) throws {
        try append(name: name ?? tensor.name, format: tensor.format, shape: tensor.shape,
                   bytes: UnsafeRawBufferPointer(start: tensor.base, count: tensor.elementCount * tensor.format.byteSize))
    }

    /// Writes the pickle, the small metadata entries and the central directory, then renames the
    /// file into place.
    public func finish() throws {
        try whileOpen {
            let pickle = TorchStateDictPickle.encode(tensors)
            let metadata: [(String, [UInt8])] = [
                ("data.pkl", pickle),
                (".format_version", Array("1".utf8)),
                (".storage_alignment", Array("\(Self.storageAlignment)".utf8)),
                ("byteorder", Array("little".utf8)),
                ("version", Array("3\n".utf8)),
                // torch writes a random decimal id; nothing reads it back but debugging tools.
                (".data/serialization_id", Array(String((0..<40).map { _ in "0123456789".randomElement()! }).utf8)),
            ]
            for (name, bytes) in metadata { try zip.addEntry(name: Self.folder + name, bytes: bytes, alignment: Self.storageAlignment) }
            // torch.save's directory order: the pickle and the small records first, then the storages.
            try zip.finish(directoryOrder: metadata.prefix(4).map { Self.folder + $0.0 })
            guard rename(zip.path, path) == 0 else {
                throw CheckpointError(file: path, "cannot rename \(zip.path.quotedForMessage) into place: \(String(cString: strerror(errno)))")
            }
            state = .finished
            SafeFileWrite.syncDirectory(containing: path)
        }
    }

    /// Runs `body` if nothing has failed yet; after a failure the partial file is abandoned.
    private func whileOpen(_ body: () throws -> Void) throws {
        guard state == .open else {
            throw CheckpointError(file: path, state == .finished ? "checkpoint already finished" : "an earlier write failed")
        }
        do { try body() } catch {
            state = .failed
            unlink(zip.path)
            throw error
        }
    }
}

extension TorchCheckpointWriter: StreamingTensorWriter {
    /// Streams the tensor through one reused buffer of at most 4 MiB that `fill` writes into.
    public func write(_ tensor: PlannedTensor, fill: (UnsafeMutableRawBufferPointer, Int) -> Void) throws {
        try append(name: tensor.name, format: tensor.format, shape: tensor.shape) { write in
            try streamInChunks(count: tensor.byteCount, fill: fill, write: write)
        }
    }
}
