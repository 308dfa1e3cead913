import Foundation

/// A model's tokenizer as GGUF `tokenizer.ggml.*` keys — what `Tokenizer.load(gguf:)` and
/// llama.cpp read, written the way llama.cpp's converter writes them:
/// - from a GGUF file: its `tokenizer.*` keys, copied as they are;
/// - from a SentencePiece `tokenizer.model` (used when there is no byte-level tokenizer.json):
///   model "llama", the pieces, scores and types (sentencepiece's type numbers are GGUF's),
///   unk/bos/eos ids, `add_bos_token`/`add_eos_token` from tokenizer_config.json,
///   `add_space_prefix` and `remove_extra_whitespaces` from the normaliser;
/// - from a byte-level BPE tokenizer.json: model "gpt2", pre as llama.cpp names the split ("qwen2",
///   "refact", "llama-bpe", "deepseek-llm", "deepseek-v3", "deepseek-coder"; for GPT-2's "olmo"
///   for OLMoE else "gpt-2"), the
///   tokens by id (added tokens: special → CONTROL, others USER_DEFINED), the merges "a b", and
///   `add_bos_token` when the tokenizer prepends a token.
/// Vocabularies shorter than the model's are padded with `[PADn]` UNUSED pieces (as the converter
/// does). A tokenizer.json of another kind without a tokenizer.model is refused in one line.
public enum GGUFTokenizerExport {
    public typealias Keys = [(key: String, value: GGUFValue)]

    /// The keys and a short description, or nil when the source has no tokenizer at all.
    public static func keys(source: ModelSource, config: ModelConfig) throws -> (keys: Keys, description: String)? {
        switch source {
        case .gguf(let file):
            var keys: Keys = []
            for key in file.metadata.keys where key.hasPrefix("tokenizer.") { keys.append((key, file.metadata[key]!)) }
            return keys.isEmpty ? nil : (keys, "copied from the GGUF")
        case .checkpointDirectory(let directory, _):
            func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
            let exists = { FileManager.default.fileExists(atPath: path($0)) }
            if exists("tokenizer.json") {
                let tokenizer = try Tokenizer.load(directory: directory, vocabularySize: config.vocabSize)
                if case .byteLevel = tokenizer.style { return (gpt2(tokenizer, config: config), "gpt2 (byte-level BPE) from tokenizer.json") }
                guard exists("tokenizer.model") else {
                    throw CheckpointError(file: path("tokenizer.json"), "only byte-level BPE tokenizer.json files (or a SentencePiece tokenizer.model) can be written as tokenizer.ggml")
                }
            }
            guard exists("tokenizer.model") else { return nil }
            let data = try SmallFile.contents(path("tokenizer.model"), maximumBytes: 512 << 20)
            let model: SentencePieceModel
            do { model = try SentencePieceModel(protobuf: Array(data)) } catch let error as ProtobufError {
                throw CheckpointError(file: path("tokenizer.model"), error.description)
            }
            let settings = try TokenizerConfig.load(path: path("tokenizer_config.json"))
            return (llama(model, settings: settings, config: config), "llama (SentencePiece) from tokenizer.model")
        }
    }

    static func llama(_ model: SentencePieceModel, settings: TokenizerConfig, config: ModelConfig) -> Keys {
        var tokens = model.pieces.map(\.text), scores = model.pieces.map(\.score)
        var types = model.pieces.map { Int32($0.type.rawValue) }
        for i in tokens.count..<max(tokens.count, config.vocabSize) {
            tokens.append("[PAD\(i)]")
            scores.append(-1000)
            types.append(Int32(SentencePieceModel.PieceType.unused.rawValue))
        }
        var keys: Keys = [
            ("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.pre", .string("default")),
            ("tokenizer.ggml.tokens", .strings(tokens)), ("tokenizer.ggml.scores", .float32s(scores)),
            ("tokenizer.ggml.token_type", .int32s(types)),
        ]
        let spec = model.trainerSpec
        for (key, id) in [("tokenizer.ggml.bos_token_id", spec.bosId), ("tokenizer.ggml.eos_token_id", spec.eosId),
                          ("tokenizer.ggml.unknown_token_id", spec.unkId)] where id >= 0 && Int(id) < tokens.count {
            keys.append((key, .uint32(UInt32(id))))
        }
        keys += [("tokenizer.ggml.add_bos_token", .bool(settings.addBosToken)), ("tokenizer.ggml.add_eos_token", .bool(settings.addEosToken)),
                 ("tokenizer.ggml.add_space_prefix", .bool(model.normalizerSpec.addDummyPrefix)),
                 ("tokenizer.ggml.remove_extra_whitespaces", .bool(model.normalizerSpec.removeExtraWhitespaces))]
        if !model.normalizerSpec.precompiledCharsmap.isEmpty {
            keys.append(("tokenizer.ggml.precompiled_charsmap", .array(itemType: 0, model.normalizerSpec.precompiledCharsmap.map { .uint8($0) })))
        }
        return keys
    }

    static func split(_ tokenizer: Tokenizer) -> ByteLevelSplit {
        if case .byteLevel(let split) = tokenizer.style { return split }
        return .gpt2
    }

    static func gpt2(_ tokenizer: Tokenizer, config: ModelConfig) -> Keys {
        let size = max(tokenizer.vocabularySize, config.vocabSize)
        var tokens = (0..<size).map { $0 < tokenizer.model.tokens.count ? tokenizer.model.tokens[$0] : "" }
        var types = [Int32](repeating: Int32(SentencePieceModel.PieceType.normal.rawValue), count: size)
        for added in tokenizer.addedTokens {
            tokens[added.id] = added.content
            types[added.id] = Int32((added.special ? SentencePieceModel.PieceType.control : .userDefined).rawValue)
        }
        for i in 0..<size where tokens[i].isEmpty {
            tokens[i] = "[PAD\(i)]"
            types[i] = Int32(SentencePieceModel.PieceType.unused.rawValue)
        }
        var keys: Keys = [
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string(split(tokenizer).ggufName(family: config.family))),
            ("tokenizer.ggml.tokens", .strings(tokens)), ("tokenizer.ggml.token_type", .int32s(types)),
            ("tokenizer.ggml.merges", .strings(tokenizer.model.merges.map { "\($0.0) \($0.1)" })),
        ]
        if let bos = tokenizer.bosTokenId ?? tokenizer.prefixTokenId { keys.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos = tokenizer.eosTokenId ?? tokenizer.suffixTokenId { keys.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        keys += [("tokenizer.ggml.add_bos_token", .bool(tokenizer.prefixTokenId != nil)),
                 ("tokenizer.ggml.add_eos_token", .bool(tokenizer.suffixTokenId != nil))]
        return keys
    }
}
