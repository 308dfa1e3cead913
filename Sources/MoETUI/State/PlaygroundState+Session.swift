import MoEKit

/// The screen's state to and from a session file (`/save`, `/load`, `/export`, the autosave),
/// and the bookkeeping `/retry` needs.
extension PlaygroundState {
    public func session() -> PlaygroundSession {
        let turns = self.turns.map { turn in
            PlaygroundSession.Turn(prompt: turn.prompt, reply: turn.reply, firstToken: turn.firstToken,
                                   replyTokens: turn.replyTokens.map { .init(index: $0.index, text: $0.text) },
                                   notice: turn.notice, finish: turn.finished.map(PlaygroundSession.Finish.init), settings: turn.settings)
        }
        return PlaygroundSession(
            model: .init(path: modelPath, name: modelName, config: config),
            settings: SessionSettings(settings, maxTokens: maxTokens, adaptiveEpsilon: adaptiveEpsilon),
            turns: turns, tokens: tokens, settingsTimeline: settingsTimeline,
            throughput: .init(promptTokensPerSecond: promptTokensPerSecond, decodeTokensPerSecond: decodeTokensPerSecond, recentDecodeRates: rateHistory))
    }

    /// Puts a saved session on screen: its turns, trace and throughput; statistics are counted
    /// again from the trace. Settings are the caller's to apply (they go to the live controls).
    public func restore(_ session: PlaygroundSession) {
        clear()
        tokens = session.tokens
        settingsTimeline = session.settingsTimeline
        turns = session.turns.map { saved in
            Turn(prompt: saved.prompt, reply: saved.reply, replyTokens: saved.replyTokens.map { ($0.index, $0.text) },
                 notice: saved.notice, finished: saved.finish?.report, firstToken: saved.firstToken, settings: saved.settings)
        }
        maxTokens = session.settings.maxTokens
        if let epsilon = session.settings.adaptiveEpsilon { adaptiveEpsilon = epsilon }
        promptTokensPerSecond = session.throughput.promptTokensPerSecond
        decodeTokensPerSecond = session.throughput.decodeTokensPerSecond
        rateHistory = session.throughput.recentDecodeRates
        recount()
        selectedToken = max(0, tokens.count - 1)
    }

    /// Session and last-reply statistics, and the generated-token totals, from `tokens`.
    func recount() {
        sessionStatistics = RoutingStatistics(layers: config.numLayers, ffnExperts: config.numFFNExperts)
        replyStatistics = RoutingStatistics(layers: config.numLayers, ffnExperts: config.numFFNExperts)
        for token in tokens { sessionStatistics.add(token) }
        for piece in turns.last?.replyTokens ?? [] { replyStatistics.add(tokens[piece.index]) }
        let generated = tokens.filter { $0.phase == "generated" }
        generatedTokens = generated.count
        generatedFFN = generated.reduce(0) { $0 + $1.ffnExpertsComputed }
    }

    /// The conversation's ids in runs that share their routing settings: what re-reading it
    /// exactly (after `/load`) takes. Tokens before the first noted settings use `fallback`.
    func replaySegments(fallback: RoutingControls) -> [ContextWindow.Segment] {
        var segments: [ContextWindow.Segment] = []
        var start = 0
        var routing = fallback
        for change in settingsTimeline + [.init(fromToken: tokens.count, settings: SessionSettings(settings, maxTokens: maxTokens, adaptiveEpsilon: nil))] {
            let end = min(change.fromToken, tokens.count)
            if end > start { segments.append(.init(ids: tokens[start..<end].map(\.tokenId), routing: routing)) }
            start = max(start, end)
            routing = change.settings.generationSettings.routing
        }
        return segments
    }

    /// Forgets the last turn (for `/retry`): its prompt, the ids the model read for it, and its
    /// first token's position in the model's context (nil when the turn has no tokens).
    func dropLastTurn() -> (prompt: String, ids: [Int], position: Int?)? {
        guard let last = turns.popLast() else { return nil }
        let own = tokens[last.firstToken...]
        let ids = own.prefix { $0.phase == "prompt" }.map(\.tokenId)
        let position = own.first?.position
        tokens.removeSubrange(last.firstToken...)
        settingsTimeline.removeAll { $0.fromToken >= last.firstToken }
        selectedToken = min(selectedToken, max(0, tokens.count - 1))
        recount()
        return (last.prompt, ids, position)
    }
}
