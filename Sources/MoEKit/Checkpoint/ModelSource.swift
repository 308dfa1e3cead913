import Foundation

/// Where a model comes from — the one entry point that turns a user's model path into a config,
/// weights and a tokenizer:
/// - a checkpoint directory: `config.json`, safetensors or `.bin` weights (`CheckpointWeights`),
///   `tokenizer.json` or `tokenizer.model`;
/// - a `.gguf` file, or a directory holding exactly one `.gguf` file and no `config.json`:
///   everything from the file (`GGUFModel`, `Tokenizer.load(gguf:)`).
///
/// `loading` says how the weight files come into memory (mapped, or copied: `WeightLoading`);
/// a GGUF file is opened so at once, a checkpoint directory's files when `weights` opens them.
public enum ModelSource {
    case checkpointDirectory(String, WeightLoading)
    case gguf(GGUFFile)

    public init(path: String, loading: WeightLoading = .mapped) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(file: path, "no such model file or directory")
        }
        guard isDirectory.boolValue else {
            self = .gguf(try GGUFFile(path: path, loading: loading))
            return
        }
        let config = (path as NSString).appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: config) {
            self = .checkpointDirectory(path, loading)
            return
        }
        let ggufFiles = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.lowercased().hasSuffix(".gguf") }.sorted()
        switch ggufFiles.count {
        case 0: self = .checkpointDirectory(path, loading)   // CheckpointWeights / ModelConfig name what is missing
        case 1: self = .gguf(try GGUFFile(path: (path as NSString).appendingPathComponent(ggufFiles[0]), loading: loading))
        default:
            throw CheckpointError(file: path, "\(ggufFiles.count) GGUF files (\(ggufFiles.prefix(3).joined(separator: ", "))…) and no config.json: name the file to run")
        }
    }

    /// The path errors should name.
    public var path: String {
        switch self {
        case .checkpointDirectory(let directory, _): return directory
        case .gguf(let file): return file.path
        }
    }

    public func config() throws -> ModelConfig {
        switch self {
        case .checkpointDirectory(let directory, _): return try ModelConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        case .gguf(let file): return try GGUFModel.config(file)
        }
    }

    public func weights(config: ModelConfig) throws -> CheckpointWeights {
        switch self {
        case .checkpointDirectory(let directory, let loading): return try CheckpointWeights(directory: directory, loading: loading)
        case .gguf(let file): return try GGUFModel.weights(file, config: config)
        }
    }

    /// `vocabularySize`: the model's, when it is loaded too (ids beyond it are refused before
    /// any table is sized by them).
    public func tokenizer(vocabularySize: Int? = nil) throws -> Tokenizer {
        switch self {
        case .checkpointDirectory(let directory, _): return try Tokenizer.load(directory: directory, vocabularySize: vocabularySize)
        case .gguf(let file): return try Tokenizer.load(gguf: file.metadata)
        }
    }

    public func transformer(interleaving: RowInterleaving = .current) throws -> Transformer {
        try Transformer(source: self, interleaving: interleaving)
    }
}
