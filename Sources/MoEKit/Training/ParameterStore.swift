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

    public init(config: ModelConfig) {
        layout = CheckpointLayout(config: config)
        var offset = 0
        for entry in layout.entries {
            slots[entry.name] = Slot(entry: entry, offset: offset)
            offset += entry.count
        }
        count = offset
        values = .allocate(capacity: max(1, offset))
        values.initialize(repeating: 0, count: max(1, offset))
        gradients = .allocate(capacity: max(1, offset))
        gradients.initialize(repeating: 0, count: max(1, offset))
    }

    deinit {
        values.deallocate()
        gradients.deallocate()
    }

    /// The parameter `name` and its gradient.
    public func value(_ name: String) -> UnsafeMutablePointer<S> { values + offset(name) }
    public func gradient(_ name: String) -> UnsafeMutablePointer<S> { gradients + offset(name) }

    public func offset(_ name: String) -> Int {
        guard let slot = slots[name] else { preconditionFailure("no parameter \(name)") }
        return slot.offset
    }

    public func zeroGradients() { gradients.update(repeating: 0, count: count) }

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
        for entry in layout.entries {
            let floats = try weights.tensor(entry.name, shape: entry.shape).floats()
            let start = offset(entry.name)
            for i in 0..<entry.count { values[start + i] = S(floats[i]) }
        }
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
