import Foundation

/// Where a model comes from — the one entry point that turns a user's model path into a config,
/// weights and a tokenizer:
/// - a checkpoint directory: `config.json`, safetensors or `.bin` weights (`CheckpointWeights`),
///   `tokenizer.json` or `tokenizer.model`;
/// - a `.gguf` file, or a directory holding exactly one `.gguf` file and no `config.json`:
///   everything from the file (`GGUFModel`, `Tokenizer.load(gguf:)`).
public enum ModelSource {
    case checkpointDirectory(String)
    case gguf(GGUFFile)

    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(file: path, "no such model file or directory")
        }
        guard isDirectory.boolValue else {
            self = .gguf(try GGUFFile(path: path))
            return
        }
        let config = (path as NSString).appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: config) {
            self = .checkpointDirectory(path)
            return
        }
        let ggufFiles = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.lowercased().hasSuffix(".gguf") }.sorted()
        switch ggufFiles.count {
        case 0: self = .checkpointDirectory(path)   // CheckpointWeights / ModelConfig name what is missing
        case 1: self = .gguf(try GGUFFile(path: (path as NSString).appendingPathComponent(ggufFiles[0])))
        default:
            throw CheckpointError(file: path, "\(ggufFiles.count) GGUF files (\(ggufFiles.prefix(3).joined(separator: ", "))…) and no config.json: name the file to run")
        }
    }

    /// The path errors should name.
    public var path: String {
        switch self {
        case .checkpointDirectory(let directory): return directory
        case .gguf(let file): return file.path
        }
    }

    public func config() throws -> ModelConfig {
        switch self {
        case .checkpointDirectory(let directory): return try ModelConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        case .gguf(let file): return try GGUFModel.config(file)
        }
    }

    public func weights(config: ModelConfig) throws -> CheckpointWeights {
        switch self {
        case .checkpointDirectory(let directory): return try CheckpointWeights(directory: directory)
        case .gguf(let file): return try GGUFModel.weights(file, config: config)
        }
    }

    /// `vocabularySize`: the model's, when it is loaded too (ids beyond it are refused before
    /// any table is sized by them).
    public func tokenizer(vocabularySize: Int? = nil) throws -> Tokenizer {
        switch self {
        case .checkpointDirectory(let directory): return try Tokenizer.load(directory: directory, vocabularySize: vocabularySize)
        case .gguf(let file): return try Tokenizer.load(gguf: file.metadata)
        }
    }

    public func transformer() throws -> Transformer {
        let config = try config()
        return try Transformer(config: config, weights: try weights(config: config))
    }
}
