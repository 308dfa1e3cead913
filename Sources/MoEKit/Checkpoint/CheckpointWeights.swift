import Foundation

/// All tensors of a checkpoint directory: `model.safetensors`, or the shards a
/// `model.safetensors.index.json` (`{"weight_map": {"tensor name": "shard file"}}`) lists.
/// Lookups check shape and name the file at fault.
public final class CheckpointWeights: @unchecked Sendable {
    public let directory: String
    private var tensors: [String: TensorView] = [:]
    public private(set) var files: [SafeTensorsFile] = []

    public init(directory: String) throws {
        self.directory = directory
        let single = (directory as NSString).appendingPathComponent("model.safetensors")
        let index = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: index) {
            guard let data = FileManager.default.contents(atPath: index),
                  let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw CheckpointError(file: index, "not a JSON object")
            }
            guard let weightMap = json["weight_map"] as? [String: String] else {
                throw CheckpointError.badKey("weight_map", file: index, "missing or not an object of strings")
            }
            for shard in Set(weightMap.values).sorted() {
                let file = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent(shard))
                files.append(file)
            }
            let byName = Dictionary(uniqueKeysWithValues: files.map { (($0.path as NSString).lastPathComponent, $0) })
            for (name, shard) in weightMap {
                guard let tensor = byName[shard]?.tensors[name] else {
                    throw CheckpointError(file: (directory as NSString).appendingPathComponent(shard), "missing tensor '\(name)' (listed in model.safetensors.index.json)")
                }
                tensors[name] = tensor
            }
        } else if FileManager.default.fileExists(atPath: single) {
            let file = try SafeTensorsFile(path: single)
            files = [file]
            tensors = file.tensors
        } else {
            throw CheckpointError(file: single, "no such file (and no model.safetensors.index.json)")
        }
    }

    public var names: [String] { tensors.keys.sorted() }
    public func contains(_ name: String) -> Bool { tensors[name] != nil }
    public func view(_ name: String) -> TensorView? { tensors[name] }

    private func fileName(_ name: String) -> String {
        tensors[name]?.file.path ?? (files.count == 1 ? files[0].path : directory)
    }

    public func tensor(_ name: String, shape: [Int]) throws -> TensorView {
        guard let tensor = tensors[name] else { throw CheckpointError.missingTensor(name, file: fileName(name)) }
        guard tensor.shape == shape else {
            throw CheckpointError(file: tensor.file.path, "tensor '\(name)': shape \(tensor.shape), expected \(shape)")
        }
        return tensor
    }

    public func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        let tensor = try tensor(name, shape: [rows, cols])
        return WeightMatrix(rows: rows, cols: cols, dtype: tensor.dtype, base: tensor.base, owner: tensor.file)
    }

    /// Small vectors (norm weights, constants) are widened to f32 once at load.
    public func vector(_ name: String, count: Int) throws -> [Float] {
        try tensor(name, shape: [count]).floats()
    }
}
