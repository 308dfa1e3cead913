import Foundation

/// All tensors of a checkpoint directory, from whichever tensor source its files are:
/// one file (`model.safetensors`, `pytorch_model.bin`) or the shards its index
/// (`*.index.json`: `{"weight_map": {"tensor name": "shard file"}}`) lists. Lookups check shape
/// and name the file at fault.
public final class CheckpointWeights: @unchecked Sendable {
    /// One on-disk layout of a checkpoint directory: its single-file name, its index name, and
    /// the tensor source that reads one of its files. Tried in order; the first present wins.
    struct Layout {
        let single: String
        let index: String
        let open: (String, WeightLoading) throws -> any TensorSource
    }

    static let layouts: [Layout] = [
        Layout(single: "model.safetensors", index: "model.safetensors.index.json", open: { try SafeTensorsFile(path: $0, loading: $1) }),
        Layout(single: "pytorch_model.bin", index: "pytorch_model.bin.index.json", open: { try TorchCheckpointFile(path: $0, loading: $1) }),
    ]

    public let directory: String
    /// Where the hyper-parameters come from, for errors: `config.json`, or the GGUF file itself.
    public let configFile: String
    /// Applied to every matrix `matrix(_:rows:cols:)` hands out, with its tensor name: how
    /// `moepp bench --quantize` serves a checkpoint's matrices in a block format (quantised in
    /// memory at load, see `WeightMatrix.quantized(to:)`). nil: the views as stored.
    public var transformMatrix: (@Sendable (_ name: String, _ matrix: WeightMatrix) -> WeightMatrix)?
    /// Which matrices `matrix(_:rows:cols:)` hands out interleaved in rows8 groups
    /// (InterleavedRows.swift); set before a model is built from these weights.
    public var interleaving = RowInterleaving.current
    /// Set by the architectures while they load routed experts (`interleaving` may spare them).
    var loadingRoutedExperts = false
    /// Byte ranges of mapped files whose matrices were interleaved into copies: nothing reads
    /// them through the mapping any more (`Transformer.warmUp` leaves them alone).
    private(set) var interleavedRanges: [(file: MappedFile, range: Range<Int>)] = []
    /// Where the interleaved copies live.
    private let arena = HugePageArena()
    /// The copies are resident memory: past what the machine has available at the first one
    /// (less 2 GiB of headroom), matrices stay row-major, so a model larger than RAM still loads
    /// and runs from its mapping.
    lazy var interleavingBudget = (HugePageArena.availableBytes() ?? Int.max / 2) - (2 << 30)
    /// Matrices handed out interleaved, their bytes, and those `interleaving` chose but the
    /// budget left row-major (`layoutSummary`).
    public private(set) var interleavedBytes = 0
    public private(set) var interleavedMatrices = 0
    public private(set) var matricesPastBudget = 0
    private var tensors: [String: TensorView] = [:]
    public private(set) var sources: [any TensorSource] = []

    /// Tensors already named as Hugging Face checkpoints name them, from `sources` (a GGUF file's
    /// views renamed and split by `GGUFModel`); `path` names the model in errors.
    init(path: String, sources: [any TensorSource], tensors: [String: TensorView]) {
        directory = path
        configFile = path
        self.sources = sources
        self.tensors = tensors
    }

    public init(directory: String, loading: WeightLoading = .mapped) throws {
        self.directory = directory
        configFile = (directory as NSString).appendingPathComponent("config.json")
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let exists = { FileManager.default.fileExists(atPath: path($0)) }
        if let layout = Self.layouts.first(where: { exists($0.index) }) {
            try loadShards(index: path(layout.index), layout: layout, loading: loading)
        } else if let layout = Self.layouts.first(where: { exists($0.single) }) {
            let source = try layout.open(path(layout.single), loading)
            sources = [source]
            tensors = source.tensors
        } else {
            let names = Self.layouts.flatMap { [$0.single, $0.index] }.joined(separator: ", ")
            throw CheckpointError(file: directory, "no weights found (looked for \(names))")
        }
    }

    private func loadShards(index: String, layout: Layout, loading: WeightLoading) throws {
        let data = try SmallFile.contents(index, maximumBytes: 256 << 20)
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CheckpointError(file: index, "not a JSON object")
        }
        guard let weightMap = json["weight_map"] as? [String: String] else {
            throw CheckpointError.badKey("weight_map", file: index, "missing or not an object of strings")
        }
        var byShard: [String: any TensorSource] = [:]
        for shard in Set(weightMap.values).sorted() {
            guard !shard.contains("/"), shard != "..", !shard.isEmpty else {
                throw CheckpointError.badKey("weight_map", file: index, "shard name \"\(shard)\" is not a file in the checkpoint directory")
            }
            let source = try layout.open((directory as NSString).appendingPathComponent(shard), loading)
            sources.append(source)
            byShard[shard] = source
        }
        for (name, shard) in weightMap {
            guard let tensor = byShard[shard]?.tensors[name] else {
                throw CheckpointError(file: (directory as NSString).appendingPathComponent(shard),
                                      "missing tensor '\(name)' (listed in \((index as NSString).lastPathComponent))")
            }
            tensors[name] = tensor
        }
    }

    /// Decoder layers the checkpoint holds: one past the largest N of `model.layers.N.…`.
    public var layerCount: Int {
        let prefix = "model.layers."
        return tensors.keys.reduce(0) { count, name in
            guard name.hasPrefix(prefix), let n = Int(name.dropFirst(prefix.count).prefix { $0.isNumber }) else { return count }
            return max(count, n + 1)
        }
    }

    /// Every mapped file, in shard order.
    public var files: [MappedFile] { sources.map(\.file) }
    public var names: [String] { tensors.keys.sorted() }
    public func contains(_ name: String) -> Bool { tensors[name] != nil }
    public func view(_ name: String) -> TensorView? { tensors[name] }

    private func fileName(_ name: String) -> String {
        tensors[name]?.file.path ?? (sources.count == 1 ? sources[0].path : directory)
    }

    public func tensor(_ name: String, shape: [Int]) throws -> TensorView {
        guard let tensor = tensors[name] else { throw CheckpointError.missingTensor(name, file: fileName(name)) }
        guard tensor.shape == shape else {
            throw CheckpointError(file: tensor.file.path, "tensor '\(name)': shape \(tensor.shape), expected \(shape)")
        }
        return tensor
    }

    /// `interleave: false` keeps the matrix row-major whatever `interleaving` says (an embedding
    /// table, read a row at a time).
    public func matrix(_ name: String, rows: Int, cols: Int, interleave: Bool = true) throws -> WeightMatrix {
        let tensor = try tensor(name, shape: [rows, cols])
        guard tensor.format.canHoldRow(of: cols) else {
            throw CheckpointError(file: tensor.file.path, "tensor '\(name)': rows of \(cols) are not whole \(tensor.format.name) blocks")
        }
        let matrix = WeightMatrix(rows: rows, cols: cols, format: tensor.format, base: tensor.base, owner: tensor.file)
        let transformed = transformMatrix?(name, matrix) ?? matrix
        return interleave ? try interleavedIfChosen(transformed, name: name, file: tensor.file.path) : transformed
    }

    /// `matrix` in rows8 groups when `interleaving` chooses it for this matrix, else as it is.
    func interleavedIfChosen(_ matrix: WeightMatrix, name: String, file: String) throws -> WeightMatrix {
        guard interleaving.interleaves(matrix, routedExpert: loadingRoutedExperts) else { return matrix }
        guard interleavedBytes + matrix.byteCount <= interleavingBudget else {
            matricesPastBudget += 1
            return matrix
        }
        interleavedBytes += matrix.byteCount
        interleavedMatrices += 1
        guard let interleaved = matrix.interleavedRows8(in: arena) else {
            throw CheckpointError(file: file, "tensor '\(name)': cannot allocate \(matrix.byteCount) bytes to interleave its rows (try --row-major)")
        }
        if let mapped = matrix.mappedFile {
            let offset = matrix.base - mapped.base
            interleavedRanges.append((mapped, offset..<offset + matrix.byteCount))
        }
        return interleaved
    }

    /// Small vectors (norm weights, constants) are widened to f32 once at load.
    public func vector(_ name: String, count: Int) throws -> [Float] {
        try tensor(name, shape: [count]).floats()
    }
}
