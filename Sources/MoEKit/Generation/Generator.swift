import Foundation

/// What a generation run reports, in order: the prompt's routing, then one `token` per generated
/// token (text piece, routing, timing), then `finished`. The CLI and the TUI consume the same stream.
public enum GenerationEvent: Sendable {
    case prompt(PromptReport)
    case token(TokenReport)
    case finished(FinishReport)
}

public struct PromptReport: Sendable {
    public var tokens: [TokenRouting]
    public var seconds: Double
    /// The live settings the prompt was read under.
    public var settings = GenerationSettings()
    public var tokensPerSecond: Double { seconds > 0 ? Double(tokens.count) / seconds : 0 }
}

public struct TokenReport: Sendable {
    public var id: Int
    /// Text this token completes (may be empty while a multi-byte character is unfinished).
    public var text: String
    public var routing: TokenRouting
    /// Wall time of this token's decode step (sampling + forward).
    public var seconds: Double
    /// The live settings this token was sampled and run under.
    public var settings = GenerationSettings()
}

public struct FinishReport: Sendable {
    public enum Reason: String, Sendable { case endOfSequence = "eos", maxTokens = "max_tokens", stopped, contextFull = "context_full" }
    public var reason: Reason
    public var promptTokens: Int
    public var generatedTokens: Int
    public var promptSeconds: Double
    public var decodeSeconds: Double
    /// Text still held by the streaming decoder when generation ended (normally empty).
    public var trailingText = ""
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(generatedTokens) / decodeSeconds : 0 }
}

/// Runs a model over a conversation: prompt prefill in one batch, then token-by-token decoding
/// with the KV cache. Reads `controls` before every token, so live toggles apply at the next one.
/// A generated token's routing is the routing of that token when it is fed back in — the same
/// convention as the prompt's — so the last generated token is also run (the cache stays whole
/// for the next turn).
public final class Generator: @unchecked Sendable {
    public let model: Transformer
    public let tokenizer: Tokenizer
    public let controls: LiveControls
    public private(set) var cache: KVCache
    private var sampler: Sampler
    private var lastSeed: UInt64
    /// The decode loop's buffers and records, reused by every generated token.
    private let step: DecodeScratch
    /// Record texts of the ids seen so far (a token's text is the same every time it is seen).
    private var recordTexts: [Int: String] = [:]

    public init(model: Transformer, tokenizer: Tokenizer, controls: LiveControls = LiveControls()) {
        self.model = model
        self.tokenizer = tokenizer
        self.controls = controls
        cache = model.makeCache()
        step = DecodeScratch(config: model.config, tokens: 1)
        lastSeed = controls.current.sampling.seed
        sampler = Sampler(seed: lastSeed)
    }

    /// Loads a model path (see `ModelSource`): a checkpoint directory (config.json, the weights,
    /// tokenizer.json or tokenizer.model) or a `.gguf` file holding all three; `loading`: mapped
    /// or copied (`WeightLoading`).
    public convenience init(directory: String, loading: WeightLoading = .mapped, controls: LiveControls = LiveControls()) throws {
        let source = try ModelSource(path: directory, loading: loading)
        let model = try source.transformer()
        let tokenizer = try source.tokenizer(vocabularySize: model.config.vocabSize)
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw CheckpointError(file: source.path, "the tokenizer has \(tokenizer.vocabularySize) tokens but the model's vocab_size is \(model.config.vocabSize)")
        }
        self.init(model: model, tokenizer: tokenizer, controls: controls)
    }

    /// Forgets the conversation.
    public func reset() { cache.truncate(to: 0) }

    func routingRecords(_ ids: [Int], _ layers: [[LayerRouting]], start: Int, phase: String) -> [TokenRouting] {
        ids.enumerated().map { t, id in
            TokenRouting(position: start + t, tokenId: id, text: recordText(id), phase: phase, layers: layers[t])
        }
    }

    /// A token's text in routing records. A token whose bytes are not UTF-8 on their own (a
    /// byte-fallback piece, or part of a multi-byte character) would decode to U+FFFD and lose
    /// which byte it was, so it is written as its bytes in hex instead: "<0xE2>", "<0xE2><0x80>".
    func recordText(_ id: Int) -> String {
        if let known = recordTexts[id] { return known }
        let text = recordTextOnce(id)
        recordTexts[id] = text
        return text
    }

    private func recordTextOnce(_ id: Int) -> String {
        let text = tokenizer.decode([id])
        let bytes = tokenizer.bytes(of: id)
        guard text.contains("\u{FFFD}"), String(bytes: bytes, encoding: .utf8) == nil else { return text }
        return bytes.map { String(format: "<0x%02X>", $0) }.joined()
    }

    /// The ids `prompt` adds to the conversation: the tokenizer's prefix token first when the
    /// conversation is empty, and BOS (or EOS) for an empty prompt. `startsConversation` overrides
    /// "empty" for ids planned before the cache holds them (a restored session).
    public func promptIds(_ prompt: String, startsConversation: Bool? = nil) -> [Int] {
        var ids = tokenizer.encode(prompt)
        if startsConversation ?? (cache.length == 0), let prefix = tokenizer.prefixTokenId { ids.insert(prefix, at: 0) }
        if ids.isEmpty, let bos = model.config.bosTokenId ?? model.config.eosTokenIds.first { ids = [bos] }
        return ids
    }

    /// Runs `ids` into the conversation without reporting them (re-reading earlier turns after
    /// the conversation was cut to fit the context, or a restored session under the routing each
    /// token had: `routing`, else the live settings).
    public func prefill(_ ids: [Int], routing: RoutingControls? = nil) throws {
        guard !ids.isEmpty else { return }
        try checkFits(ids.count, reply: false)
        if let routing { try routing.mask.check(model.config) }
        _ = try model.forward(ids, cache: cache, controls: try routing ?? checkedControls().routing)
    }

    /// Positions still free in the context.
    public var freePositions: Int { cache.maximumLength - cache.length }

    /// A prompt must fit with room for one generated token when a reply is wanted; the same
    /// one-line error for `generate`, `route` and the playground.
    func checkFits(_ count: Int, reply: Bool) throws {
        guard count + (reply ? 1 : 0) > freePositions else { return }
        throw GenerationError.promptTooLong(tokens: count, used: cache.length, context: cache.maximumLength, reply: reply)
    }

    /// The live settings, refused when they leave the router nothing to choose.
    func checkedControls() throws -> GenerationSettings {
        let settings = controls.current
        try settings.routing.mask.check(model.config)
        return settings
    }

    /// Encodes `prompt`, appends it to the conversation and generates up to `maxTokens` tokens.
    /// `shouldStop` is polled between tokens (Ctrl+C in the TUI).
    @discardableResult
    public func generate(prompt: String, maxTokens: Int, shouldStop: () -> Bool = { false },
                         onEvent: (GenerationEvent) -> Void) throws -> FinishReport {
        try generate(ids: promptIds(prompt), maxTokens: maxTokens, shouldStop: shouldStop, onEvent: onEvent)
    }

    /// `generate(prompt:…)` on ids already encoded (see `promptIds`).
    @discardableResult
    public func generate(ids: [Int], maxTokens: Int, shouldStop: () -> Bool = { false },
                         onEvent: (GenerationEvent) -> Void) throws -> FinishReport {
        var report = FinishReport(reason: .maxTokens, promptTokens: ids.count, generatedTokens: 0, promptSeconds: 0, decodeSeconds: 0)
        guard !ids.isEmpty else { report.reason = .endOfSequence; onEvent(.finished(report)); return report }
        try checkFits(ids.count, reply: maxTokens > 0)
        let promptStart = Date()
        let start = cache.length
        let promptSettings = try checkedControls()
        let output = try model.forward(ids, cache: cache, controls: promptSettings.routing)
        report.promptSeconds = Date().timeIntervalSince(promptStart)
        onEvent(.prompt(PromptReport(tokens: routingRecords(ids, output.routing, start: start, phase: "prompt"), seconds: report.promptSeconds,
                                     settings: promptSettings)))
        // The first token is drawn from the prompt's logits, the others from the last step's
        // (read in place: holding a copy of `step.logits` would make the next step copy them).
        var afterPrompt = true
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        decoder.atStart = start == 0 && ids.count == (tokenizer.prefixTokenId == nil ? 0 : 1)
        while report.generatedTokens < maxTokens {
            if shouldStop() { report.reason = .stopped; break }
            let stepStart = Date()
            let settings = try checkedControls()
            if settings.sampling.seed != lastSeed {
                lastSeed = settings.sampling.seed
                sampler = Sampler(seed: lastSeed)
            }
            let next = afterPrompt ? sampler.sample(output.logits[...], settings.sampling) : sampler.sample(step.logits[...], settings.sampling)
            if model.config.eosTokenIds.contains(next) || (model.config.eosTokenIds.isEmpty && next == tokenizer.eosTokenId) { report.reason = .endOfSequence; break }
            guard cache.length + 1 <= cache.maximumLength else { report.reason = .contextFull; break }
            let position = cache.length
            try model.decode(next, cache: cache, controls: settings.routing, scratch: step)
            afterPrompt = false
            let seconds = Date().timeIntervalSince(stepStart)
            report.generatedTokens += 1
            report.decodeSeconds += seconds
            // The records are the step's own buffers: an observer that keeps them keeps a copy
            // (copy on write when the next step overwrites them); one that does not costs nothing.
            let routing = TokenRouting(position: position, tokenId: next, text: recordText(next), phase: "generated", layers: step.routing[0])
            onEvent(.token(TokenReport(id: next, text: decoder.push(next), routing: routing, seconds: seconds, settings: settings)))
        }
        // An unfinished character at the end of the stream is shown as U+FFFD, not dropped.
        report.trailingText = decoder.finish()
        onEvent(.finished(report))
        return report
    }
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case promptTooLong(tokens: Int, used: Int, context: Int, reply: Bool)

    public var description: String {
        switch self {
        case let .promptTooLong(tokens, used, context, reply):
            return "prompt too long: \(tokens) tokens" + (reply ? " plus 1 to generate" : "") + ", but the model's context holds \(context)"
                + (used > 0 ? " and \(used) are in use" : "") + " (max_position_embeddings)"
        }
    }
}
