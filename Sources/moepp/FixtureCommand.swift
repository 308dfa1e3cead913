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

    func run() throws {
        guard let family = ModelFamily(rawValue: family) else { throw ValidationError("--family: expected moe++, mixtral or olmoe") }
        guard let dtype = WeightFormat(rawValue: dtype.uppercased()), dtype.elementsPerBlock == 1 else { throw ValidationError("--dtype: expected F32, F16 or BF16") }
        guard hidden % 4 == 0, hidden >= 8 else { throw ValidationError("--hidden: a multiple of 4, at least 8") }
        let config = RandomCheckpoint.tinyConfig(family, hidden: hidden, layers: layers, ffnExperts: ffnExperts)
        try RandomCheckpoint.write(config: config, to: output, seed: seed, dtype: dtype)
        print("wrote \(output)")
    }
}
