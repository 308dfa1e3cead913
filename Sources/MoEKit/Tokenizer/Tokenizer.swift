import Foundation

/// A tokenizer in one of the three forms MoE checkpoints ship:
/// - `tokenizer.json`, byte-level (GPT-2, OLMoE, Qwen2, Llama 3, Granite, DeepSeek, ours): text → pre-tokenizer words
///   (`ByteLevelSplit`) → bytes as `ByteLevelAlphabet` characters → BPE;
/// - `tokenizer.json`, SentencePiece-style (LLaMA, Mixtral, MoE++): spaces become "▁", a "▁" is
///   prepended (`Metaspace`), BPE over Unicode scalars, and anything not in the vocabulary falls
///   back to `<0xXX>` byte tokens;
/// - `tokenizer.model` (SentencePiece protobuf): encoded exactly as the `sentencepiece` library
///   does, by `SentencePieceProcessor` (BPE or Unigram).
/// Added (special) tokens of a `tokenizer.json` are matched verbatim before either JSON spelling.
public final class Tokenizer: @unchecked Sendable {
    public enum Style: Equatable, Sendable {
        case byteLevel(ByteLevelSplit)
        case sentencePiece(Metaspace)
        case sentencePieceModel
    }

    public struct AddedToken: Sendable {
        public let content: String
        public let id: Int
        public let special: Bool
    }

    public let style: Style
    public let model: BPEModel
    public let byteFallback: Bool
    public let unknownTokenId: Int?
    public let addedTokens: [AddedToken]
    /// The token the post-processor puts before every input (LLaMA's `<s>`), if any.
    public let prefixTokenId: Int?
    /// Beginning / end of sequence (`<s>`, `</s>`) when known; generation stops at `eosTokenId`.
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    /// `add_eos_token`: the token a training-style encoding puts after the input, if any.
    public let suffixTokenId: Int?
    /// Set for `tokenizer.model` tokenizers: the whole SentencePiece pipeline.
    let processor: SentencePieceProcessor?
    /// `ignore_merges`: a word that is itself a vocabulary entry is taken whole (LLaMA 3 style).
    public let ignoreMerges: Bool
    /// `bytes(of:)` of the ids decoded so far.
    let byteCache = TokenBytesCache()
    let byteTokenIds: [Int?]
    let addedById: [Int: AddedToken]
    /// Added-token contents → index in `addedTokens`, so that finding the longest one at each
    /// position costs the token's length, not the number of added tokens (DeepSeek-V3 has 818).
    let addedTrie: ByteTrie

    public var vocabularySize: Int { max(model.tokens.count, (addedTokens.map(\.id).max() ?? -1) + 1) }

    public convenience init(style: Style, model: BPEModel, byteFallback: Bool = false, unknownToken: String? = nil,
                            addedTokens: [AddedToken] = [], prefixToken: String? = nil, ignoreMerges: Bool = false) {
        self.init(style: style, model: model, byteFallback: byteFallback, unknownToken: unknownToken, addedTokens: addedTokens,
                  prefixToken: prefixToken, ignoreMerges: ignoreMerges, bosToken: nil, eosToken: nil, suffixToken: nil, processor: nil)
    }

    init(style: Style, model: BPEModel, byteFallback: Bool, unknownToken: String?, addedTokens: [AddedToken],
         prefixToken: String?, ignoreMerges: Bool, bosToken: String?, eosToken: String?, suffixToken: String?,
         processor: SentencePieceProcessor?) {
        self.style = style
        self.processor = processor
        self.ignoreMerges = ignoreMerges
        self.model = model
        self.byteFallback = byteFallback
        self.addedTokens = addedTokens.sorted { $0.content.utf8.count > $1.content.utf8.count }
        addedById = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var trie = ByteTrie()
        for (index, token) in self.addedTokens.enumerated() where !token.content.isEmpty { trie.insert(Array(token.content.utf8), id: index) }
        addedTrie = trie
        func lookup(_ text: String) -> Int? {
            addedTokens.first(where: { $0.content == text })?.id ?? model.id(of: Array(text.utf8))
        }
        unknownTokenId = unknownToken.flatMap(lookup)
        prefixTokenId = prefixToken.flatMap(lookup)
        bosTokenId = bosToken.flatMap(lookup) ?? prefixTokenId
        eosTokenId = eosToken.flatMap(lookup)
        suffixTokenId = suffixToken.flatMap(lookup)
        byteTokenIds = (0..<256).map { byte in model.id(of: Array(String(format: "<0x%02X>", byte).utf8)) }
    }

    public static func load(path: String) throws -> Tokenizer {
        let data = try SmallFile.contents(path, maximumBytes: 512 << 20)
        return try TokenizerJSON.decode(JSONFields(data: data, file: path))
    }

    // MARK: Encoding

    /// Added tokens are cut out first — at each character the longest one that starts there —
    /// and the text between them is encoded plainly.
    public func encode(_ text: String) -> [Int] {
        if let processor { return processor.encode(text) }
        let bytes = Array(text.utf8)
        var ids: [Int] = []
        // Byte offset where the current section (text between added tokens) starts.
        var sectionStart = 0
        var position = 0
        func section(_ end: Int) -> String { String(decoding: bytes[sectionStart..<end], as: UTF8.self) }
        while position < bytes.count {
            var longest: (index: Int, length: Int)?
            addedTrie.forEachPrefix(of: bytes, from: position) { longest = ($0, $1) }
            if let longest {
                ids += encodePlain(section(position), startsText: sectionStart == 0)
                ids.append(addedTokens[longest.index].id)
                position += longest.length
                sectionStart = position
            } else {
                position += UTF8Length.ofCharacter(startingWith: bytes[position])
            }
        }
        return ids + encodePlain(section(bytes.count), startsText: sectionStart == 0)
    }

    func encodePlain(_ text: String, startsText: Bool) -> [Int] {
        guard !text.isEmpty else { return [] }
        switch style {
        case .byteLevel(let split):
            return split.split(text).flatMap(encodeWord)
        case .sentencePiece(let metaspace):
            return metaspace.words(text, startsText: startsText).flatMap { word -> [Int] in
                model.merge(word.map { Array(String($0).utf8) }).flatMap(idsForSymbol)
            }
        case .sentencePieceModel:
            return processor?.encode(text) ?? []
        }
    }

    /// Ids of one byte-level pre-tokenizer word (public so that the trainer can cache by word).
    public func encodeWord(_ word: String) -> [Int] {
        let symbols = word.utf8.map { Array(String(ByteLevelAlphabet.characterForByte[Int($0)]).utf8) }
        if ignoreMerges, let whole = model.id(of: symbols.flatMap { $0 }) { return [whole] }
        return model.merge(symbols).flatMap(idsForSymbol)
    }

    func idsForSymbol(_ symbol: BPEModel.Symbol) -> [Int] {
        if let id = model.id(of: symbol) { return [id] }
        if byteFallback {
            let ids = symbol.compactMap { byteTokenIds[Int($0)] }
            if ids.count == symbol.count { return ids }
        }
        return unknownTokenId.map { [$0] } ?? []
    }

    // MARK: Decoding

    /// Special tokens decode to nothing visible in a SentencePiece model (control pieces) and to
    /// their content in a `tokenizer.json`; either way they do not end the start-of-text state.
    public func isSpecial(_ id: Int) -> Bool {
        if let processor { return processor.vocabulary.type(of: id) == .control }
        return addedById[id]?.special ?? false
    }

    public func tokenString(_ id: Int) -> String {
        if let added = addedById[id] { return added.content }
        return id >= 0 && id < model.tokens.count ? model.tokens[id] : "<\(id)?>"
    }

    /// The raw bytes token `id` stands for (the leading-space strip of SentencePiece decoding is
    /// the streaming decoder's business).
    public func bytes(of id: Int) -> [UInt8] {
        if let processor { return processor.bytes(of: id) }
        if case .sentencePiece = style, let byte = Self.fallbackByte(tokenString(id)) { return [byte] }
        if let added = addedById[id] { return Array(added.content.utf8) }
        guard id >= 0 && id < model.tokens.count else { return Array("\u{FFFD}".utf8) }
        let token = model.tokens[id]
        switch style {
        case .byteLevel:
            return token.map { ByteLevelAlphabet.byteForCharacter[$0] ?? 0x3F }
        case .sentencePiece, .sentencePieceModel:
            // Byte-wise, not String-wise: "▁" + a combining mark is one Character, and a
            // Character-level replace would leave that "▁" in the text.
            return SentencePieceProcessor.unescape(Array(token.utf8)[...])
        }
    }

    /// `bytes(of:)`, kept per id after its first call (the streaming decoder's per-token lookup).
    func cachedBytes(of id: Int) -> [UInt8] { byteCache.bytes(of: id) { bytes(of: id) } }

    static func fallbackByte(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    public func decode(_ ids: [Int]) -> String {
        var decoder = StreamingDecoder(tokenizer: self)
        return ids.map { decoder.push($0) }.joined() + decoder.finish()
    }
}
