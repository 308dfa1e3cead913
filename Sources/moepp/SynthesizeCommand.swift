import ArgumentParser
import Foundation
import MoEKit

/// `moepp synthesize`: a checkpoint with a real model's exact shapes, dtypes and file layout and
/// seeded random weights, streamed to disk tensor by tensor — what full-scale benchmarks run on.
struct SynthesizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthesize",
        abstract: "Write a full-size random checkpoint in a release's layout (streamed; never whole in memory).")

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        /// The official MoE++ 7B: 25 `.bin` shards + index, bf16 with an f32 router, SentencePiece.
        case moepp7b = "moepp-7b"
        /// Granite-3.0-3B-A800M: safetensors shards, bf16.
        case granite3b = "granite-3b-a800m"
        /// OLMoE-1B-7B: safetensors shards, bf16.
        case olmoe1b7b = "olmoe-1b-7b"
        /// Mixtral-style models for the llama.cpp comparison (147 M, vocab 512; 1.13 B, vocab 32 000).
        case mixtral145m = "mixtral-145m"
        case mixtral1b = "mixtral-1b"

        /// The file format the release ships in.
        var releaseFormat: String { self == .moepp7b ? "bin" : "safetensors" }
    }

    @Option(help: "Which release to imitate: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).") var preset: Preset = .moepp7b
    @Option(help: "Shard files: bin (torch.save zip) or safetensors (default: what the release ships).") var format: String?
    @Option(help: "Layers (default: the release's).") var layers: Int?
    @Option(help: "Weight format of the Mixtral presets: F32, F16 or BF16 (the MoE++ 7B is bf16 with an f32 router).") var dtype = "BF16"
    @Option(help: "Random seed.") var seed: UInt64 = 7
    @Option(help: "Output directory (must not exist or be empty).") var output: String

    func validate() throws {
        guard SyntheticCheckpoint.FileFormat(rawValue: format ?? preset.releaseFormat) != nil else { throw ValidationError("--format: expected bin or safetensors") }
        if let layers, layers < 1 || layers > 1024 { throw ValidationError("--layers: expected 1…1024") }
        guard let format = WeightFormat(rawValue: dtype.uppercased()), format.elementsPerBlock == 1 else { throw ValidationError("--dtype: expected F32, F16 or BF16") }
    }

    func run() throws {
        let fileFormat = SyntheticCheckpoint.FileFormat(rawValue: format ?? preset.releaseFormat)!
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        guard existing.isEmpty else { throw CheckpointError(file: output, "exists and is not empty; refusing to write into it") }
        var synthetic: SyntheticCheckpoint
        switch preset {
        case .moepp7b: synthetic = .moeppRelease7B()
        case .granite3b: synthetic = .graniteMoE3BA800M()
        case .olmoe1b7b: synthetic = .olmoe1B7B()
        case .mixtral145m: synthetic = .mixtralBenchmark(.small, weightFormat: WeightFormat(rawValue: dtype.uppercased())!)
        case .mixtral1b: synthetic = .mixtralBenchmark(.large, weightFormat: WeightFormat(rawValue: dtype.uppercased())!)
        }
        if let layers { synthetic.config.numLayers = layers }
        let start = Date()
        try synthetic.write(to: output, fileFormat: fileFormat, seed: seed, makeWriter: { path, plan in
            switch fileFormat {
            case .safetensors: return try SafeTensorsStreamWriter(path: path, plan: plan)
            case .bin: return try TorchCheckpointWriter(path: path)
            }
        }, log: { print($0) })
        try SyntheticTokenizer.write(vocabularySize: synthetic.config.vocabSize, to: output)
        print(String(format: "wrote %@ in %.0f s", output, Date().timeIntervalSince(start)))
    }
}
