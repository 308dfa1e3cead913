import ArgumentParser
import Foundation
import MoEKit

struct FixtureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixture", abstract: "Write a small checkpoint with seeded random weights (for tests and benchmarks).")

    @Option(help: "moe++, mixtral or olmoe.") var family = "moe++"
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Hidden size.") var hidden = 32
    @Option(help: "Layers.") var layers = 2
    @Option(name: .customLong("ffn-experts"), help: "FFN experts per layer.") var ffnExperts = 4
    @Option(help: "F32, F16 or BF16.") var dtype = "F32"
    @Option(help: "Output directory.") var output: String

    func validate() throws {
        guard ModelFamily(rawValue: family) != nil else { throw ValidationError("--family: expected moe++, mixtral or olmoe") }
        guard let format = WeightFormat(rawValue: dtype.uppercased()), format.elementsPerBlock == 1 else { throw ValidationError("--dtype: expected F32, F16 or BF16") }
        // Four heads of an even size (rotary embeddings), so a multiple of 8.
        guard hidden % 8 == 0, (8...8192).contains(hidden) else { throw ValidationError("--hidden: a multiple of 8 within 8…8192, found \(hidden)") }
        guard (1...256).contains(layers) else { throw ValidationError("--layers: expected 1…256, found \(layers)") }
        let fewest = family == ModelFamily.moepp.rawValue ? 1 : 2 // top-2 routing needs two experts to choose from
        guard (fewest...256).contains(ffnExperts) else { throw ValidationError("--ffn-experts: expected \(fewest)…256, found \(ffnExperts)") }
        // The writer holds the whole checkpoint in memory: a fixture is small by definition.
        let config = RandomCheckpoint.tinyConfig(ModelFamily(rawValue: family)!, hidden: hidden, layers: layers, ffnExperts: ffnExperts)
        let parameters = CheckpointLayout(config: config).totalParameters
        guard parameters <= 1 << 28 else {
            throw ValidationError("--hidden/--layers/--ffn-experts: \(parameters) parameters; a fixture has at most \(1 << 28)")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("--output: \(output) exists and is not a directory")
        }
    }

    func run() throws {
        let family = ModelFamily(rawValue: family)!, dtype = WeightFormat(rawValue: dtype.uppercased())!
        let config = RandomCheckpoint.tinyConfig(family, hidden: hidden, layers: layers, ffnExperts: ffnExperts)
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("--output: cannot create \(output): \(String(cString: strerror(errno)))")
        }
        guard access(output, W_OK) == 0 else { throw ValidationError("--output: \(output) is not writable: \(String(cString: strerror(errno)))") }
        try RandomCheckpoint.write(config: config, to: output, seed: seed, dtype: dtype)
        print("wrote \(output)")
    }
}
