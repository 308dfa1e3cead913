import Foundation

/// Finding and opening a checkpoint's tokenizer: `tokenizer.json` when there is one (it is what
/// Hugging Face's fast tokenizers run), else SentencePiece's `tokenizer.model`, with the special
/// token settings of `tokenizer_config.json` when present.
extension Tokenizer {
    /// `vocabularySize`: config.json's `vocab_size` when a model is loaded with the tokenizer; a
    /// tokenizer.json id at or beyond it is refused before any table is sized by it.
    public static func load(directory: String, vocabularySize: Int? = nil) throws -> Tokenizer {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let config = try TokenizerConfig.load(path: path("tokenizer_config.json"))
        let hasModelFile = FileManager.default.fileExists(atPath: path("tokenizer.model"))
        if FileManager.default.fileExists(atPath: path("tokenizer.json")) {
            let data = try SmallFile.contents(path("tokenizer.json"), maximumBytes: 512 << 20)
            let json = try JSONFields(data: data, file: path("tokenizer.json"))
            // A tokenizer.json of a kind we do not run (e.g. Unigram) beside its tokenizer.model: the
            // .model is the same tokenizer and runs exactly, so it is used rather than refused.
            let kind = (json.object["model"] as? [String: Any])?["type"] as? String
            if !(hasModelFile && kind != nil && kind != "BPE") {
                return try TokenizerJSON.decode(json, bosToken: config.bosToken, eosToken: config.eosToken, vocabularyLimit: vocabularySize)
            }
        }
        guard hasModelFile else {
            throw CheckpointError(file: directory, "no tokenizer.json or tokenizer.model")
        }
        return try load(sentencePieceModel: path("tokenizer.model"), config: config)
    }

    /// A SentencePiece `tokenizer.model`; errors are one line naming the file and byte position.
    public static func load(sentencePieceModel path: String, config: TokenizerConfig = TokenizerConfig()) throws -> Tokenizer {
        let data = try SmallFile.contents(path, maximumBytes: 512 << 20)
        do {
            return try Tokenizer(sentencePiece: SentencePieceModel(protobuf: Array(data)), config: config)
        } catch let error as ProtobufError {
            throw CheckpointError(file: path, error.description)
        }
    }

    /// A tokenizer running `model` exactly as the `sentencepiece` library encodes and decodes.
    /// `<s>` goes in front of inputs unless `add_bos_token` is false (LLaMA's default is true).
    public convenience init(sentencePiece model: SentencePieceModel, config: TokenizerConfig = TokenizerConfig()) throws {
        let processor = try SentencePieceProcessor(model)
        // sentencepiece's bos_id()/eos_id(): the trainer's piece names, if they are control pieces.
        func control(_ piece: String) -> String? {
            let id = processor.vocabulary.id(of: Array(piece.utf8))
            return processor.vocabulary.type(of: id) == .control ? piece : nil
        }
        let bos = config.bosToken ?? control(model.trainerSpec.bosPiece)
        let eos = config.eosToken ?? control(model.trainerSpec.eosPiece)
        self.init(style: .sentencePieceModel, model: BPEModel(tokenBytes: model.pieces.map(\.bytes)),
                  byteFallback: model.trainerSpec.byteFallback, unknownToken: processor.vocabulary.pieces[processor.vocabulary.unknownId].text,
                  addedTokens: [], prefixToken: config.addBosToken ? bos : nil, ignoreMerges: false,
                  bosToken: bos, eosToken: eos, suffixToken: config.addEosToken ? eos : nil, processor: processor)
    }
}

/// The `tokenizer_config.json` settings a SentencePiece tokenizer needs (LLaMA's defaults).
public struct TokenizerConfig: Sendable, Equatable {
    public var addBosToken = true
    public var addEosToken = false
    public var bosToken: String?
    public var eosToken: String?

    public init(addBosToken: Bool = true, addEosToken: Bool = false, bosToken: String? = nil, eosToken: String? = nil) {
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.bosToken = bosToken
        self.eosToken = eosToken
    }

    /// Reads `path` if it exists; an absent file means the defaults.
    static func load(path: String) throws -> TokenizerConfig {
        guard let data = try SmallFile.contentsIfPresent(path, maximumBytes: 64 << 20) else { return TokenizerConfig() }
        let json = try JSONFields(data: data, file: path)
        // A token is "<s>" or, in newer files, {"content": "<s>", …}; null means none.
        func token(_ key: String) throws -> String? {
            guard json.has(key) else { return nil }
            if let text = json.object[key] as? String { return text }
            if let object = json.object[key] as? [String: Any], let content = object["content"] as? String { return content }
            throw json.fail(key, "expected a string or an object with \"content\"")
        }
        return TokenizerConfig(addBosToken: try json.bool("add_bos_token", default: true),
                               addEosToken: try json.bool("add_eos_token", default: false),
                               bosToken: try token("bos_token"), eosToken: try token("eos_token"))
    }
}
