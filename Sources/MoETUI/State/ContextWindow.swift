import MoEKit

/// Keeps a conversation going past the model's context: never a dead end.
///
/// A prompt continues the conversation in place when it and a reply fit. Otherwise the
/// conversation restarts from a sliding window: the newest earlier turns that fit (prompt and
/// reply text, oldest dropped first) are re-read silently, then the prompt follows. A prompt
/// that alone leaves no room for a reply keeps only its last tokens. Either way the turn carries
/// a notice saying what the model can still see.
///
///   reply room = min(max tokens, context / 2)   (at least 1)
///   in place  when  used + prompt + reply room ≤ context
///   window    = most recent turns with  prefix + turns + prompt + reply room ≤ context
public struct ContextWindow: Sendable {
    /// Ids read under one routing setting (a restored conversation is re-read in such runs).
    public struct Segment: Sendable {
        public var ids: [Int]
        /// nil: the live settings.
        public var routing: RoutingControls? = nil
    }

    /// Tokens to re-read after forgetting the conversation; nil: continue in place.
    public var replay: [Segment]?
    public var prompt: [Int]
    public var maxTokens: Int
    /// Earlier turns the model still sees (after a slide).
    public var keptTurns: Int
    public var notice: String?

    /// `pending`: the conversation's exact ids, with the routing each ran under, when they are
    /// not in the model's cache yet (a loaded session), read first; `reread`: the earlier turns are not in the cache and their
    /// ids are unknown, so take the sliding-window path, which re-reads them from their text.
    public static func plan(_ generator: Generator, turns earlier: [Turn], prompt: String, maxTokens: Int,
                            pending: [Segment]? = nil, reread: Bool = false) -> ContextWindow {
        let context = generator.cache.maximumLength
        let replyRoom = max(1, min(maxTokens, context / 2))
        let tokenizer = generator.tokenizer
        let used = generator.cache.length + (pending?.reduce(0) { $0 + $1.ids.count } ?? 0)
        let inPlace = generator.promptIds(used > 0 ? " " + prompt : prompt, startsConversation: used == 0)
        if !reread && used + inPlace.count + replyRoom <= context {
            return ContextWindow(replay: pending, prompt: inPlace, maxTokens: maxTokens, keptTurns: earlier.count, notice: nil)
        }
        let prefix = tokenizer.prefixTokenId.map { [$0] } ?? []
        // The newest earlier turns that fit beside the prompt, as one text.
        func history(_ count: Int) -> String {
            earlier.suffix(count).enumerated().map { ($0.offset == 0 ? "" : " ") + $0.element.prompt + $0.element.reply }.joined()
        }
        let followingPrompt = tokenizer.encode(" " + prompt)
        var kept = 0, replayed: [Int] = []
        while kept < earlier.count {
            let candidate = tokenizer.encode(history(kept + 1))
            guard prefix.count + candidate.count + followingPrompt.count + replyRoom <= context else { break }
            kept += 1
            replayed = candidate
        }
        let dropped = earlier.count - kept
        if kept > 0 {
            let notice = "context window (\(context) tokens) full: dropped the \(dropped) oldest turn\(dropped == 1 ? "" : "s"), the model re-read the last \(kept)"
            return ContextWindow(replay: [Segment(ids: prefix + replayed)], prompt: followingPrompt, maxTokens: maxTokens, keptTurns: kept, notice: notice)
        }
        var alone = prefix + tokenizer.encode(prompt)
        if alone.isEmpty { alone = generator.promptIds("") }
        var notices: [String] = []
        if !earlier.isEmpty { notices.append("context window (\(context) tokens) full: earlier turns dropped") }
        let room = context - replyRoom
        if alone.count > room {
            let total = alone.count - prefix.count
            alone = prefix + alone.suffix(room - prefix.count)
            notices.append("prompt is \(total) tokens, the context \(context): the model reads only its last \(room - prefix.count)")
        }
        return ContextWindow(replay: [], prompt: alone, maxTokens: maxTokens, keptTurns: 0, notice: notices.isEmpty ? nil : notices.joined(separator: "; "))
    }

    /// Runs the plan: restart and re-read the window if sliding, then the prompt and its reply.
    public func run(on generator: Generator, shouldStop: () -> Bool = { false }, onEvent: (GenerationEvent) -> Void) throws {
        if let replay {
            generator.reset()
            for segment in replay { try generator.prefill(segment.ids, routing: segment.routing) }
        }
        try generator.generate(ids: prompt, maxTokens: maxTokens, shouldStop: shouldStop, onEvent: onEvent)
    }
}
