import ArgumentParser
import Foundation
import MoEKit

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt and decode throughput against the memory-bandwidth roofline (medians over repeats).")

    @Option(name: .shortAndLong, help: "Checkpoint directories to measure (repeatable). Default: the synthetic pair.") var model: [String] = []
    @Option(help: "Also measure seeded random checkpoints of these families (repeatable): moe++, mixtral.") var synthetic: [String] = []
    @Option(help: "Synthetic model: hidden size.") var hidden = 1024
    @Option(help: "Synthetic model: expert intermediate size.") var intermediate = 2048
    @Option(help: "Synthetic model: layers.") var layers = 8
    @Option(name: .customLong("ffn-experts"), help: "Synthetic model: FFN experts per layer.") var ffnExperts = 8
    @Option(help: "Synthetic model: F32, F16 or BF16.") var dtype = "BF16"
    @Option(name: .customLong("prompt-tokens")) var promptTokens = 128
    @Option(name: .customLong("decode-tokens")) var decodeTokens = 64
    @Option(help: "Repeats; figures are medians.") var repeats = 5
    @OptionGroup var routing: RoutingOptions

    func syntheticModel(_ family: ModelFamily) throws -> String {
        guard let dtype = WeightFormat(rawValue: dtype.uppercased()) else { throw ValidationError("--dtype: expected F32, F16 or BF16") }
        let directory = ".build/bench-models/\(family == .moepp ? "moepp" : family.rawValue)-h\(hidden)-i\(intermediate)-l\(layers)-e\(ffnExperts)-\(dtype.rawValue)"
        if !FileManager.default.fileExists(atPath: directory + "/model.safetensors") {
            FileHandle.standardError.write(Data("writing synthetic checkpoint \(directory)…\n".utf8))
            let config = RandomCheckpoint.tinyConfig(family, hidden: hidden, layers: layers, ffnExperts: ffnExperts,
                                                     intermediate: intermediate, heads: max(1, hidden / 64))
            try RandomCheckpoint.write(config: config, to: directory, seed: 1, dtype: dtype)
        }
        return directory
    }

    func run() throws {
        var directories = model
        var families = try synthetic.map { name -> ModelFamily in
            guard let family = ModelFamily(rawValue: name) else { throw ValidationError("--synthetic: expected moe++ or mixtral") }
            return family
        }
        if directories.isEmpty && families.isEmpty { families = [.moepp, .mixtral] }
        directories += try families.map(syntheticModel)
        let bandwidth = MemoryBandwidth.measure()
        print(String(format: "memory bandwidth (%d threads, median of 7): %.1f GB/s", Parallel.coreCount, bandwidth / 1e9))
        print("model | weights MB | prompt tok/s | decode tok/s | FFN experts/token/layer | slots ffn/zero/copy/const | MB/token | roofline tok/s | of roofline")
        for directory in directories {
            let transformer = try Transformer(directory: directory)
            var benchmark = DecodeBenchmark(model: transformer)
            benchmark.promptTokens = promptTokens
            benchmark.decodeTokens = decodeTokens
            benchmark.repeats = repeats
            benchmark.controls = try routing.controls(for: transformer.config, modelDirectory: directory)
            let r = try benchmark.run(bandwidth: bandwidth)
            let size = Double(transformer.weights.files.reduce(0) { $0 + $1.size }) / 1e6
            let share = ["ffn", "zero", "copy", "const"].map { String(format: "%.2f", r.slotShare[$0] ?? 0) }.joined(separator: "/")
            print(String(format: "%@ | %.0f | %.1f | %.2f | %.2f | %@ | %.1f | %.1f | %.2f", (directory as NSString).lastPathComponent, size,
                         r.promptTokensPerSecond, r.decodeTokensPerSecond, r.ffnExpertsPerTokenPerLayer, share,
                         r.bytesPerToken / 1e6, r.rooflineTokensPerSecond, r.fractionOfRoofline))
        }
    }
}
