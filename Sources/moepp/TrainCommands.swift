import ArgumentParser
import Foundation
import MoEKit

/// Text files of a corpus split directory, sorted (so runs are reproducible).
func corpusFiles(_ directory: String) throws -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
        throw CheckpointError(file: directory, "no such corpus directory (run `make corpus`)")
    }
    let files = names.filter { $0.hasSuffix(".txt") }.sorted().map { (directory as NSString).appendingPathComponent($0) }
    guard !files.isEmpty else { throw CheckpointError(file: directory, "no .txt files") }
    return files
}

struct TokenizerTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer", abstract: "Learn a byte-level BPE tokenizer.json from a corpus directory.")

    @Option(help: "Directory of .txt files.") var corpus = "corpus/train"
    @Option(help: "Vocabulary size, special tokens excluded.") var vocabulary = 4095
    @Option(help: "Output tokenizer.json.") var output: String

    func run() throws {
        guard vocabulary >= 256 && vocabulary < 65_535 else { throw ValidationError("--vocabulary must be within 256…65534") }
        let texts = try corpusFiles(corpus).map { try String(contentsOfFile: $0, encoding: .utf8) }
        let counts = BPETrainer.wordCounts(texts)
        print("\(counts.count) distinct words")
        let result = BPETrainer(vocabularySize: vocabulary).train(wordCounts: counts) { size in
            FileHandle.standardError.write(Data("\r\(size) tokens".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        try Tokenizer.writeByteLevel(tokens: result.tokens, merges: result.merges, specialTokens: ["<|endoftext|>"], to: output)
        print("wrote \(output): \(result.tokens.count) tokens + <|endoftext|>")
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an MoE++ or vanilla MoE model from a plan; resumable (run it again to continue).")

    @Option(help: "Training plan (JSON, see Assets/plans).") var plan: String
    @Option(name: .customLong("run"), help: "Run directory for checkpoints and logs (resumes if it has one).") var runDirectory: String
    @Option(help: "tokenizer.json to use (copied into the run).") var tokenizer = "Assets/tokenizer/tokenizer.json"
    @Option(help: "Training corpus directory.") var corpus = "corpus/train"
    @Option(help: "Validation corpus directory.") var validation = "corpus/validation"
    @Option(name: .customLong("max-minutes"), help: "Stop (with a checkpoint) after this many minutes.") var maxMinutes: Double?
    @Option(help: "Stop after this step (the plan's schedule still spans all its steps).") var until: Int?
    @Option(help: "After training, export the model to this directory.") var export: String?

    func validate() throws {
        if let maxMinutes { guard maxMinutes > 0, maxMinutes.isFinite else { throw ValidationError("--max-minutes: expected a positive number, found \(maxMinutes)") } }
        if let until { guard until >= 0 else { throw ValidationError("--until: expected a step ≥ 0, found \(until)") } }
    }

    func run() throws {
        let trainingPlan = try TrainingPlan.load(path: plan)
        let trainer = try Trainer(plan: trainingPlan, runDirectory: runDirectory, tokenizerPath: tokenizer,
                                  trainFiles: try corpusFiles(corpus), validationFiles: try corpusFiles(validation))
        let layout = CheckpointLayout(config: trainer.config)
        print(String(format: "model: %@ %.2fM parameters, %d layers × %d experts, d=%d; %.1f MFLOP per trained token",
                     trainer.config.family.rawValue, Double(layout.totalParameters) / 1e6, trainer.config.numLayers,
                     trainer.config.numExperts, trainer.config.hiddenSize, trainer.flopsPerToken / 1e6))
        let deadline = maxMinutes.map { Date().addingTimeInterval($0 * 60) } ?? .distantFuture
        try trainer.run(until: deadline, stopAt: until)
        if let export {
            try trainer.export(to: export)
            print("exported \(export)")
        }
    }
}
