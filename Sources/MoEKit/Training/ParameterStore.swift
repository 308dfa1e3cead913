import Foundation

/// All trainable parameters in one flat buffer, with their gradients beside them, in the order
/// and under the names of `CheckpointLayout` — so saving a checkpoint is writing slices, and the
/// optimiser and gradient clipping see one array.
public final class ParameterStore<S: TrainingScalar> {
    public struct Slot {
        public let entry: CheckpointLayout.Entry
        public let offset: Int
    }

    public let layout: CheckpointLayout
    public private(set) var slots: [String: Slot] = [:]
    /// Parameters and their gradients, `count` each; pointers stay put for the store's life.
    public let values: UnsafeMutablePointer<S>
    public let gradients: UnsafeMutablePointer<S>
    public let count: Int

    public var config: ModelConfig { layout.config }

    /// Set in paged mode (`init(paging:)`): the checkpoint layers are widened from, and the
    /// byte size of each of the two anonymous mappings.
    let pagedSource: CheckpointWeights?
    let mappedBytes: Int
    /// Element range of each layer's slots; page-aligned at both ends in paged mode.
    public private(set) var layerRanges: [Range<Int>] = []

    public init(config: ModelConfig) {
        layout = CheckpointLayout(config: config)
        count = Self.assignSlots(layout, alignment: 1, slots: &slots, layerRanges: &layerRanges)
        pagedSource = nil
        mappedBytes = 0
        values = .allocate(capacity: max(1, count))
        values.initialize(repeating: 0, count: max(1, count))
        gradients = .allocate(capacity: max(1, count))
        gradients.initialize(repeating: 0, count: max(1, count))
    }

    /// Paged mode, for models larger than RAM: values and gradients are anonymous `MAP_NORESERVE`
    /// mappings (address space only; a page costs RAM once written), the global tensors are
    /// widened from `weights` now and each layer on `materialize(layer:)`, until `release(layer:)`
    /// gives its pages back. Each layer starts on a page boundary, so releasing one never
    /// discards another's bytes.
    public init(paging weights: CheckpointWeights, config: ModelConfig) throws {
        layout = CheckpointLayout(config: config)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        precondition(page % MemoryLayout<S>.stride == 0)
        count = Self.assignSlots(layout, alignment: page / MemoryLayout<S>.stride, slots: &slots, layerRanges: &layerRanges)
        let bytes = (max(1, count) * MemoryLayout<S>.stride + page - 1) / page * page
        mappedBytes = bytes
        func map() throws -> UnsafeMutablePointer<S> {
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), p != MAP_FAILED else {
                throw CheckpointError(file: weights.directory, "cannot map \(bytes) bytes of parameters: errno \(errno)")
            }
            return p.bindMemory(to: S.self, capacity: bytes / MemoryLayout<S>.stride)
        }
        values = try map()
        gradients = try map()
        pagedSource = weights
        let layerEntries = Set(layout.layerEntries.joined())
        for (i, entry) in layout.entries.enumerated() where !layerEntries.contains(i) { try widen(entry, from: weights) }
    }

    /// Slots in layout order; each layer's first slot and the first slot after the last layer
    /// start at a multiple of `alignment` elements. Returns the total element count.
    static func assignSlots(_ layout: CheckpointLayout, alignment: Int, slots: inout [String: Slot], layerRanges: inout [Range<Int>]) -> Int {
        func aligned(_ offset: Int) -> Int { (offset + alignment - 1) / alignment * alignment }
        var offset = 0
        var starts: [Int: Int] = [:], ends: [Int: Int] = [:]
        for (l, range) in layout.layerEntries.enumerated() {
            starts[range.lowerBound] = l
            ends[range.upperBound] = l
        }
        for (i, entry) in layout.entries.enumerated() {
            if starts[i] != nil || ends[i] != nil { offset = aligned(offset) }
            if let l = ends[i] { layerRanges[l] = layerRanges[l].lowerBound..<offset }
            if starts[i] != nil { layerRanges.append(offset..<offset) }
            slots[entry.name] = Slot(entry: entry, offset: offset)
            offset += entry.count
        }
        if let l = ends[layout.entries.count] {
            offset = aligned(offset)
            layerRanges[l] = layerRanges[l].lowerBound..<offset
        }
        return offset
    }

    deinit {
        if mappedBytes > 0 {
            munmap(values, mappedBytes)
            munmap(gradients, mappedBytes)
        } else {
            values.deallocate()
            gradients.deallocate()
        }
    }

    /// Paged mode: widens layer `l`'s tensors from the checkpoint into their slots.
    public func materialize(layer l: Int) throws {
        guard let pagedSource else { preconditionFailure("materialize(layer:) needs a paged store") }
        for i in layout.layerEntries[l] {
            try widen(layout.entries[i], from: pagedSource)
            // The f32 copy is what is read from now on; keep the source's pages out of our RSS.
            let view = try pagedSource.tensor(layout.entries[i].name, shape: layout.entries[i].shape)
            view.file.dropPages(offset: view.offset, count: view.byteCount)
        }
    }

    /// Paged mode: gives layer `l`'s value and gradient pages back to the system; they read as
    /// zero afterwards (private anonymous memory) and cost nothing until written again.
    public func release(layer l: Int) {
        precondition(mappedBytes > 0, "release(layer:) needs a paged store")
        let range = layerRanges[l], stride = MemoryLayout<S>.stride
        for base in [values, gradients] where !range.isEmpty {
            _ = madvise(UnsafeMutableRawPointer(base + range.lowerBound), range.count * stride, Int32(MADV_DONTNEED))
        }
    }

    func widen(_ entry: CheckpointLayout.Entry, from weights: CheckpointWeights) throws {
        let view = try weights.tensor(entry.name, shape: entry.shape), start = values + offset(entry.name)
        if S.self == Float.self {
            convertToFloat(view.base, view.format, count: entry.count, into: UnsafeMutableRawPointer(start).assumingMemoryBound(to: Float.self))
        } else {
            let floats = view.floats()
            for i in 0..<entry.count { start[i] = S(floats[i]) }
        }
    }

    /// The parameter `name` and its gradient.
    public func value(_ name: String) -> UnsafeMutablePointer<S> { values + offset(name) }
    public func gradient(_ name: String) -> UnsafeMutablePointer<S> { gradients + offset(name) }

    public func offset(_ name: String) -> Int {
        guard let slot = slots[name] else { preconditionFailure("no parameter \(name)") }
        return slot.offset
    }

    public func zeroGradients() {
        // Paged: dropping the pages zeroes them without making every page resident.
        if mappedBytes > 0 { _ = madvise(UnsafeMutableRawPointer(gradients), mappedBytes, Int32(MADV_DONTNEED)) } else { gradients.update(repeating: 0, count: count) }
    }

    /// GPT-2-style initialisation: N(0, 0.02) for matrices, output projections scaled by
    /// 1/√(2·layers), norms at 1, gating residuals at 0 (so training starts from plain routing).
    public func initialise(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let outputScale = 1 / Float(2 * config.numLayers).squareRoot()
        for entry in layout.entries {
            let start = offset(entry.name)
            for i in 0..<entry.count {
                let value: Float
                switch entry.role {
                case .norm: value = 1
                case .gatingResidual: value = 0
                case .constantExpert: value = entry.shape.count == 1 ? random.normal() * 0.02 : random.normal() * 0.02
                default:
                    let isOutput = entry.name.hasSuffix("o_proj.weight") || entry.name.hasSuffix("down_proj.weight") || entry.name.hasSuffix(".w2.weight")
                    value = random.normal() * 0.02 * (isOutput ? outputScale : 1)
                }
                values[start + i] = S(value)
            }
        }
    }

    /// Copies parameters from a loaded checkpoint with the same layout.
    public func load(from weights: CheckpointWeights) throws {
        for entry in layout.entries { try widen(entry, from: weights) }
    }

    /// Writes `model.safetensors` (in `dtype`) and `config.json` into `directory`.
    public func save(to directory: String, dtype: WeightFormat, metadata: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var writer = SafeTensorsWriter()
        writer.metadata = metadata
        for entry in layout.entries {
            let start = offset(entry.name)
            writer.add(entry.name, shape: entry.shape, values: (start..<start + entry.count).map { Float(values[$0]) }, dtype: dtype)
        }
        try writer.write(to: (directory as NSString).appendingPathComponent("model.safetensors"))
        try config.write(to: (directory as NSString).appendingPathComponent("config.json"))
    }
}
