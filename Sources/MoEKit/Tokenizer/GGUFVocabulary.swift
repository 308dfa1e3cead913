import Foundation

/// A tokenizer from a GGUF file's `tokenizer.ggml.*` metadata (what llama.cpp's converter writes):
/// - `model = "llama"`: SentencePiece pieces (`tokens`, `scores`, `token_type` with
///   sentencepiece's type numbers) → a `SentencePieceModel` (BPE by score, identity normaliser,
///   `add_space_prefix` default true, byte fallback when `<0xNN>` byte pieces exist), encoded by
///   the same processor as a `tokenizer.model`;
/// - `model = "gpt2"`: byte-level BPE (`tokens`, `merges` "a b") → the tokenizer.json BPE path;
///   control tokens become special added tokens, user-defined ones plain added tokens. `pre`
///   picks the split (`ByteLevelSplit.ggufNames`: "gpt-2"/"olmo", "qwen2", "refact",
///   "llama-bpe", "deepseek-llm", "deepseek-v3", "deepseek-coder"); others are refused, since a
///   wrong split gives wrong ids with exit 0. A Llama 3 vocabulary looks whole words up before
///   merging, as llama.cpp does for that pre-tokenizer.
/// `bos_token_id` / `eos_token_id` / `unknown_token_id`, `add_bos_token` (default: true for
/// llama and Llama 3, false for other gpt2 vocabularies, as llama.cpp), `add_eos_token`.
extension Tokenizer {
    public static func load(gguf metadata: GGUFMetadata) throws -> Tokenizer {
        let modelKey = "tokenizer.ggml.model"
        let model = try metadata.string(modelKey)
        guard let tokens = try metadata.strings("tokenizer.ggml.tokens") else { throw metadata.fail("tokenizer.ggml.tokens", "missing") }
        guard !tokens.isEmpty else { throw metadata.fail("tokenizer.ggml.tokens", "empty vocabulary") }
        func tokenId(_ key: String) throws -> Int? {
            guard metadata.has(key) else { return nil }
            let id = try metadata.int(key)
            // llama.cpp writes -1 (as u32 0xFFFFFFFF in some files) for "none".
            if id == -1 || id == Int(UInt32.max) { return nil }
            guard id >= 0 && id < tokens.count else { throw metadata.fail(key, "id \(id) is outside the \(tokens.count)-token vocabulary") }
            return id
        }
        let types = try metadata.integers("tokenizer.ggml.token_type") ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw metadata.fail("tokenizer.ggml.token_type", "\(types.count) types for \(tokens.count) tokens")
        }
        for (index, type) in types.enumerated() where SentencePieceModel.PieceType(rawValue: Int32(clamping: type)) == nil {
            throw metadata.fail("tokenizer.ggml.token_type", "item \(index) is \(type), not a token type (1 normal … 6 byte)")
        }
        func type(_ id: Int) -> SentencePieceModel.PieceType {
            types.isEmpty ? .normal : SentencePieceModel.PieceType(rawValue: Int32(types[id]))!
        }
        let bos = try tokenId("tokenizer.ggml.bos_token_id")
        let eos = try tokenId("tokenizer.ggml.eos_token_id")

        switch model {
        case "llama":
            let scores = try metadata.numbers("tokenizer.ggml.scores") ?? []
            guard scores.isEmpty || scores.count == tokens.count else {
                throw metadata.fail("tokenizer.ggml.scores", "\(scores.count) scores for \(tokens.count) tokens")
            }
            var spm = SentencePieceModel()
            spm.pieces = tokens.indices.map { id in
                SentencePieceModel.Piece(tokens[id], score: scores.isEmpty ? 0 : Float(scores[id]), type: type(id))
            }
            spm.trainerSpec.modelType = .bpe
            spm.trainerSpec.vocabSize = Int32(clamping: tokens.count)
            spm.trainerSpec.byteFallback = spm.pieces.contains { $0.type == .byte }
            let unknown = try tokenId("tokenizer.ggml.unknown_token_id") ?? spm.pieces.firstIndex { $0.type == .unknown } ?? 0
            spm.trainerSpec.unkId = Int32(unknown)
            spm.trainerSpec.unkPiece = tokens[unknown]
            spm.trainerSpec.bosId = Int32(bos ?? -1)
            spm.trainerSpec.eosId = Int32(eos ?? -1)
            if let bos { spm.trainerSpec.bosPiece = tokens[bos] }
            if let eos { spm.trainerSpec.eosPiece = tokens[eos] }
            spm.normalizerSpec.name = "identity"
            spm.normalizerSpec.addDummyPrefix = try metadata.bool("tokenizer.ggml.add_space_prefix", default: true)
            spm.normalizerSpec.removeExtraWhitespaces = try metadata.bool("tokenizer.ggml.remove_extra_whitespaces", default: false)
            if let charsmap = try metadata.integers("tokenizer.ggml.precompiled_charsmap") {
                spm.normalizerSpec.precompiledCharsmap = charsmap.map { UInt8(truncatingIfNeeded: $0) }
            }
            let config = TokenizerConfig(addBosToken: try metadata.bool("tokenizer.ggml.add_bos_token", default: true),
                                         addEosToken: try metadata.bool("tokenizer.ggml.add_eos_token", default: false),
                                         bosToken: bos.map { tokens[$0] }, eosToken: eos.map { tokens[$0] })
            do {
                return try Tokenizer(sentencePiece: spm, config: config)
            } catch let error as ProtobufError {
                throw metadata.fail("tokenizer.ggml.tokens", error.reason)
            }
        case "gpt2":
            let preKey = "tokenizer.ggml.pre"
            let pre = try metadata.string(preKey, default: "default")
            guard let split = ByteLevelSplit.ggufNames[pre] else {
                throw metadata.fail(preKey, "pre-tokenizer \"\(pre)\" is not implemented (moepp splits \(ByteLevelSplit.ggufNames.keys.sorted().joined(separator: ", ")))")
            }
            var vocabulary: [String: Int] = [:]
            var added: [AddedToken] = []
            for (id, token) in tokens.enumerated() {
                if vocabulary[token] == nil { vocabulary[token] = id }
                switch type(id) {
                case .control: added.append(AddedToken(content: token, id: id, special: true))
                case .userDefined: added.append(AddedToken(content: token, id: id, special: false))
                default: break
                }
            }
            var merges: [(String, String)] = []
            for (index, merge) in (try metadata.strings("tokenizer.ggml.merges") ?? []).enumerated() {
                guard let space = merge.firstIndex(of: " ") else {
                    throw metadata.fail("tokenizer.ggml.merges", "item \(index) \(merge.quotedForMessage) is not \"a b\"")
                }
                merges.append((String(merge[..<space]), String(merge[merge.index(after: space)...])))
            }
            let addBos = try metadata.bool("tokenizer.ggml.add_bos_token", default: split.ggufAddsBosByDefault)
            let addEos = try metadata.bool("tokenizer.ggml.add_eos_token", default: false)
            return Tokenizer(style: .byteLevel(split), model: BPEModel(vocabulary: vocabulary, merges: merges), byteFallback: false,
                             unknownToken: nil, addedTokens: added, prefixToken: addBos ? bos.map { tokens[$0] } : nil,
                             ignoreMerges: split.ggufIgnoresMerges, bosToken: bos.map { tokens[$0] }, eosToken: eos.map { tokens[$0] },
                             suffixToken: addEos ? eos.map { tokens[$0] } : nil, processor: nil)
        default:
            throw metadata.fail(modelKey, "tokenizer model \"\(model)\" is not supported (moepp reads llama, gpt2)")
        }
    }
}
