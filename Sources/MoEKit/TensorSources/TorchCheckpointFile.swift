/// A PyTorch `.bin` checkpoint (the zip format `torch.save` has written since torch 1.6) viewed in
/// place, as the official MoE++ release ships its weights. The archive holds a pickle of the state
/// dict (`<folder>/data.pkl`) and one stored entry per storage (`<folder>/data/<key>`), each
/// starting on a 64-byte boundary; a tensor is a storage, an element offset into it, a shape and
/// strides. The pickle is run by `WeightsOnlyUnpickler`, which executes nothing, and every tensor
/// is checked to lie inside its storage, so the views are as safe as a safetensors file's.
public final class TorchCheckpointFile: TensorSource {
    public let file: MappedFile
    public let tensors: [String: TensorView]
    /// Tensor names in the order the state dict was saved.
    public let tensorNames: [String]

    public convenience init(path: String, loading: WeightLoading = .mapped) throws {
        try self.init(file: MappedFile(path: path, loading: loading))
    }

    init(file: MappedFile) throws {
        self.file = file
        let archive = try ZipArchive(file: file)
        let pickle = try Self.findPickle(archive)
        // The folder is whatever torch.save named it after; every other entry is found under it.
        let folder = String(pickle.name.dropLast("data.pkl".count))
        try Self.checkByteOrder(archive, folder: folder)
        var unpickler = WeightsOnlyUnpickler(bytes: try archive.storedBytes(of: pickle), path: file.path, entryName: pickle.name)
        let records = try unpickler.stateDict()

        var storages = StorageTable(archive: archive, folder: folder)
        var tensors: [String: TensorView] = [:]
        for (name, record) in records {
            let location = "tensor \(name.quotedForMessage) (\(pickle.name.quotedForMessage) byte \(record.position))"
            func fail(_ why: String) -> CheckpointError { CheckpointError(file: file.path, "\(location): \(why)") }
            let storage = try storages.bytes(of: record.storage, fail: fail)
            let elementCount = try Self.checkedElementCount(record, fail: fail)
            if elementCount > 0 { try Self.checkContiguous(record, fail: fail) }
            let (end, overflow) = record.storageOffset.addingReportingOverflow(elementCount)
            guard !overflow, end <= record.storage.elementCount else {
                throw fail("elements \(record.storageOffset)..<\(overflow ? "overflow" : "\(end)") lie beyond storage \(record.storage.key.quotedForMessage) of \(record.storage.elementCount) elements")
            }
            let base = storage.baseAddress! + record.storageOffset * record.storage.format.byteSize
            tensors[name] = TensorView(name: name, format: record.storage.format, shape: record.shape, base: base, file: file)
        }
        self.tensors = tensors
        tensorNames = records.map(\.name)
    }

    /// Exactly one `data.pkl`, directly inside the archive's single top-level folder.
    private static func findPickle(_ archive: ZipArchive) throws -> ZipArchive.Entry {
        let candidates = archive.entries.filter { entry in
            entry.name.hasSuffix("/data.pkl") && entry.name.dropLast("/data.pkl".count).firstIndex(of: "/") == nil
        }
        guard let pickle = candidates.first else {
            throw CheckpointError(file: archive.file.path, "no <folder>/data.pkl entry among \(archive.entries.count) zip entries (not a torch.save checkpoint?)")
        }
        guard candidates.count == 1 else {
            throw CheckpointError(file: archive.file.path, "\(candidates.count) data.pkl entries (\(candidates.map(\.name.quotedForMessage).joined(separator: ", "))); expected one")
        }
        return pickle
    }

    /// Storages hold raw machine-order elements; torch writes which order, and files from before
    /// it did were all little-endian.
    private static func checkByteOrder(_ archive: ZipArchive, folder: String) throws {
        guard let entry = archive.entry(named: folder + "byteorder") else { return }
        let bytes = try archive.storedBytes(of: entry)
        let order = String(decoding: bytes.prefix(16), as: UTF8.self)
        guard order == "little" else {
            throw CheckpointError(file: archive.file.path, "zip entry \(entry.name.quotedForMessage) at byte \(entry.localHeaderOffset): byte order \(order.quotedForMessage); only little-endian checkpoints can be mapped")
        }
    }

    private static func checkedElementCount(_ record: TorchTensorRecord, fail: (String) -> CheckpointError) throws -> Int {
        var count = 1
        for size in record.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("shape \(record.shape) has more elements than an Int can count") }
            count = product
        }
        return count
    }

    /// Checkpoints hold contiguous row-major tensors; a view with other strides would need a copy,
    /// which in-place mapping cannot give. Strides of size-1 dimensions never matter (torch's own
    /// contiguity rule).
    private static func checkContiguous(_ record: TorchTensorRecord, fail: (String) -> CheckpointError) throws {
        var expected = 1
        for dimension in record.shape.indices.reversed() where record.shape[dimension] != 1 {
            guard record.stride[dimension] == expected else {
                throw fail("not contiguous: shape \(record.shape) with strides \(record.stride) (re-save with .contiguous())")
            }
            expected *= record.shape[dimension]
        }
    }
}

/// The storages a state dict names, each checked once however many tensors share it.
private struct StorageTable {
    let archive: ZipArchive
    let folder: String
    private var checked: [String: (reference: TorchStorageReference, bytes: UnsafeRawBufferPointer)] = [:]

    init(archive: ZipArchive, folder: String) {
        self.archive = archive
        self.folder = folder
    }

    mutating func bytes(of reference: TorchStorageReference, fail: (String) -> CheckpointError) throws -> UnsafeRawBufferPointer {
        if let known = checked[reference.key] {
            guard known.reference == reference else {
                throw fail("storage \(reference.key.quotedForMessage) named as \(reference.elementCount) \(reference.format.name) elements, earlier as \(known.reference.elementCount) \(known.reference.format.name)")
            }
            return known.bytes
        }
        let name = folder + "data/" + reference.key
        guard let entry = archive.entry(named: name) else { throw fail("storage entry \(name.quotedForMessage) is missing from the archive") }
        let bytes = try archive.storedBytes(of: entry)
        let (needed, overflow) = reference.elementCount.multipliedReportingOverflow(by: reference.format.byteSize)
        guard !overflow, needed <= bytes.count else {
            throw fail("storage entry \(name.quotedForMessage) at byte \(entry.dataOffset) holds \(bytes.count) bytes, fewer than its \(reference.elementCount) \(reference.format.name) elements need")
        }
        // Kernels load elements with aligned loads; torch.save aligns every storage to 64 bytes.
        guard entry.dataOffset % reference.format.byteSize == 0 else {
            throw fail("storage entry \(name.quotedForMessage) starts at byte \(entry.dataOffset), not aligned for \(reference.format.name) (not written by torch.save?)")
        }
        checked[reference.key] = (reference, bytes)
        return bytes
    }
}
