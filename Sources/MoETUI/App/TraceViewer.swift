import Foundation
import MoEKit

/// `moepp view FILE`: a routing trace opened read-only in the playground's views (chat, routing
/// map, inspector, layer statistics, the statistics screen) without a model. The trace's routing
/// shape stands in for the model's configuration (`RoutingTrace.routingConfig`); turns come from
/// the trace when it has them, else from its prompt/generated phases.
public enum TraceViewer {
    public static func state(_ trace: RoutingTrace, name: String) -> PlaygroundState {
        let state = PlaygroundState(config: trace.routingConfig(), modelName: trace.model.isEmpty ? name : trace.model, settings: GenerationSettings())
        state.readOnly = true
        state.traceSource = trace.source
        state.focus = .map
        var turn: Turn?
        func finish() { if let done = turn { state.turns.append(done) }; turn = nil }
        for token in trace.tokens {
            if token.phase == "prompt" {
                if turn?.replyTokens.isEmpty == false { finish() }
                if turn == nil { turn = Turn(prompt: "") }
                turn?.prompt += token.text
            } else {
                if turn == nil { turn = Turn(prompt: "") }
                let index = state.append(token)
                turn?.replyTokens.append((index, token.text))
                turn?.reply += token.text
                continue
            }
            state.append(token)
        }
        finish()
        // The trace's own turn texts are the better record (imports have no per-token text).
        for (i, recorded) in trace.turns.enumerated() where i < state.turns.count {
            if !recorded.prompt.isEmpty { state.turns[i].prompt = recorded.prompt }
            if state.turns[i].reply.isEmpty { state.turns[i].reply = recorded.reply }
        }
        for i in state.turns.indices where state.turns[i].prompt.isEmpty {
            state.turns[i].notice = "\(trace.source.rawValue) trace: no prompt text"
        }
        if !trace.hasProbabilities {
            state.say("\(trace.source.rawValue) trace: chosen expert ids only (no probabilities or weights) · F12 statistics · Tab/arrows move")
        } else {
            state.say("read-only \(trace.source.rawValue) trace · F12 statistics · Tab/arrows move")
        }
        state.selectedToken = 0
        state.followTail = false
        return state
    }

    /// Keys the viewer refuses: everything that would need a model (sending a prompt, the
    /// routing and sampling toggles). nil when the key may go to the controller.
    public static func refusal(_ key: Key, _ state: PlaygroundState) -> String? {
        if state.statisticsScreen != nil || state.showHelp { return nil }
        if key == .enter, state.focus == .input {
            let line = state.input.string.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("/") else { return line.isEmpty ? nil : "read-only trace: no model to send a prompt to" }
            if case .success(let command) = SlashCommand.parse(line) {
                switch command {
                case .save, .help, .quit, .statistics: return nil
                default: return "read-only trace: \(line.split(separator: " ").first ?? "") needs a model"
                }
            }
            return nil
        }
        switch KeyTable.action(for: key) {
        case .toggleZero, .toggleCopy, .toggleConstant, .toggleResidual, .toggleAdaptive, .topKDown, .topKUp, .temperatureDown, .temperatureUp, .clear:
            return "read-only trace: toggles need a model (moepp chat)"
        default: return nil
        }
    }
}
