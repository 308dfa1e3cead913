import Foundation
import MoEKit

/// What the application loop must do after a key.
public enum Effect: Equatable, Sendable {
    case none, quit, redraw
    case startGeneration(String)
    case stopGeneration
    /// Forget the conversation in the generator too.
    case resetConversation
    /// Write the session to a file (`/save`, `/save!`).
    case save(String, replace: Bool)
    /// Replay the last prompt under two settings (`/ab`).
    case abReplay(SettingsReplay)
    /// Restore a saved session, switching to its model when it ran on another.
    case load(String)
    case switchModel(String)
    /// Forget the last turn and send its prompt again.
    case retry
}

/// Turns keys and slash commands into state changes and live-control updates. Knows nothing of
/// the terminal, so tests can drive it key by key.
public final class PlaygroundController {
    public let state: PlaygroundState
    public let controls: LiveControls
    public var layout: ScreenLayout

    public init(state: PlaygroundState, controls: LiveControls, layout: ScreenLayout) {
        self.state = state
        self.controls = controls
        self.layout = layout
        state.settings = controls.current
    }

    func update(_ change: (inout GenerationSettings) -> Void) {
        controls.update(change)
        state.settings = controls.current
    }

    public func handle(_ key: Key) -> Effect {
        // A confirmation to quit lasts one key: anything but a second Ctrl+C cancels it.
        let quitArmed = state.quitArmed
        state.quitArmed = false
        if key == .control("c") && quitArmed && !state.generating { return .quit }
        // Ctrl+D with a half-typed prompt deletes (as in a shell), wherever the focus is; it quits
        // only from an empty prompt.
        if key == .control("d") && !state.input.isEmpty {
            state.input.delete()
            return .redraw
        }
        if state.showHelp {
            switch key {
            case .escape, .function(1), .character("?"), .character("q"), .enter: state.showHelp = false; return .redraw
            case .up, .wheelUp: state.helpScroll -= 1; return .redraw
            case .down, .wheelDown: state.helpScroll += 1; return .redraw
            case .pageUp: state.helpScroll -= 10; return .redraw
            case .pageDown: state.helpScroll += 10; return .redraw
            case .home: state.helpScroll = 0; return .redraw
            case .end: state.helpScroll = Int.max / 2; return .redraw
            case .control("d"), .function(10): return .quit
            case .control("c"): return perform(.stop)
            default: return .none
            }
        }
        if state.ab.visible, let effect = handleABScreen(key) { return effect }
        if state.statisticsScreen != nil { return handleStatisticsScreen(key) }
        if case .click(let row, let column) = key { return click(row: row, column: column) }
        if key == .resize { return .redraw }
        switch state.focus {
        case .input:
            if let effect = edit(key) { return effect }
        case .map:
            switch key {
            case .left: state.moveSelection(tokens: -1, layers: 0); return .redraw
            case .right: state.moveSelection(tokens: 1, layers: 0); return .redraw
            case .up: state.moveSelection(tokens: 0, layers: -1); return .redraw
            case .down: state.moveSelection(tokens: 0, layers: 1); return .redraw
            case .home: state.moveSelection(tokens: -state.tokens.count, layers: 0); return .redraw
            // The inspector scrolls with the map's cursor in place (a fine-grained layer has more experts than rows).
            case .pageUp: state.inspectorScroll = max(0, state.inspectorScroll - 5); return .redraw
            case .pageDown: state.inspectorScroll += 5; return .redraw
            default: if let effect = returnToPrompt(key) { return effect }
            }
        case .chat:
            switch key {
            case .up: state.chatScroll += 1; return .redraw
            case .down: state.chatScroll = max(0, state.chatScroll - 1); return .redraw
            default: if let effect = returnToPrompt(key) { return effect }
            }
        }
        guard let action = KeyTable.action(for: key) else { return .none }
        return perform(action)
    }

    /// From the map or the chat, Esc returns to the prompt and typing starts a prompt there.
    func returnToPrompt(_ key: Key) -> Effect? {
        switch key {
        case .escape: state.focus = .input
        case .character(let c) where c != "?":
            state.focus = .input
            state.input.insert(c)
        case .paste(let text):
            state.focus = .input
            state.input.insert(contentsOf: text)
        default: return nil
        }
        return .redraw
    }

    /// Prompt-line editing; nil when the key is not an editing key here.
    func edit(_ key: Key) -> Effect? {
        switch key {
        case .character("?") where state.input.isEmpty: return nil
        case .character(let c): state.input.insert(c)
        case .newline: state.input.insert("\n")
        case .paste(let text): state.input.insert(contentsOf: text)
        case .backspace: state.input.backspace()
        case .delete: state.input.delete()
        case .left: state.input.left()
        case .right: state.input.right()
        case .home: state.input.home()
        case .end where !state.input.isEmpty: state.input.end()
        case .up: state.input.previous()
        case .down: state.input.next()
        case .control("a"): state.input.home()
        case .control("e"): state.input.end()
        case .control("u"): state.input.clear()
        default: return nil
        }
        return .redraw
    }

    func click(row: Int, column: Int) -> Effect {
        if let cell = RoutingMapView.cell(atRow: row, column: column, in: layout.map, state) {
            state.selectedToken = cell.token
            state.selectedLayer = cell.layer
            state.followTail = cell.token == state.tokens.count - 1
            state.focus = .map
        } else if layout.input.contains(row: row, column: column) {
            state.focus = .input
        } else if layout.chat.contains(row: row, column: column) {
            state.focus = .chat
        }
        return .redraw
    }

    public func perform(_ action: Action) -> Effect {
        switch action {
        case .help: state.showHelp = true; state.helpScroll = 0
        case .closeOverlay: state.focus = .input
        case .focusNext: state.focus = Focus(rawValue: (state.focus.rawValue + 1) % Focus.allCases.count)!
        case .focusPrevious: state.focus = Focus(rawValue: (state.focus.rawValue + Focus.allCases.count - 1) % Focus.allCases.count)!
        case .send: return send()
        case .stop:
            // Never quits by itself: a second Ctrl+C aimed at a reply that just ended would
            // otherwise throw the session away. Idle, it clears the prompt line or asks to confirm.
            if state.generating { state.stopRequested = true; state.say("stopping…"); return .stopGeneration }
            if !state.input.isEmpty { state.input.clear(); return .redraw }
            state.quitArmed = true
            state.say("Ctrl+C again quits (so do F10 and /quit); any other key stays")
        case .quit: return .quit
        case .toggleZero: toggle(\.zeroEnabled, "zero experts")
        case .toggleCopy: toggle(\.copyEnabled, "copy experts")
        case .toggleConstant: toggle(\.constantEnabled, "constant experts")
        case .toggleResidual: setResidual(!controls.current.routing.gatingResidual)
        case .toggleAdaptive: setAdaptive(state.settings.routing.adaptiveGate == nil ? state.adaptiveEpsilon : nil)
        case .topKDown: setTopK((state.settings.routing.topK ?? state.config.topK) - 1)
        case .topKUp: setTopK((state.settings.routing.topK ?? state.config.topK) + 1)
        case .temperatureDown: setTemperature(state.settings.sampling.temperature - 0.1)
        case .temperatureUp: setTemperature(state.settings.sampling.temperature + 0.1)
        case .scrollUp: state.chatScroll += 5
        case .scrollDown: state.chatScroll = max(0, state.chatScroll - 5)
        case .followTail:
            state.chatScroll = 0
            state.followTail = true
            if !state.tokens.isEmpty { state.selectedToken = state.tokens.count - 1 }
        case .redraw: return .redraw
        case .clear: return run(.clear)
        case .statistics: openStatistics()
        }
        return .redraw
    }

    func toggle(_ path: WritableKeyPath<ExpertMask, Bool>, _ name: String) {
        setKind(path, !controls.current.routing.mask[keyPath: path], name)
    }

    /// Every mask change goes through here: one that leaves the router no expert is refused with
    /// the same words as the command line's, and the generator never sees it.
    @discardableResult
    func setMask(_ proposed: ExpertMask) -> Bool {
        do {
            try proposed.check(state.config)
        } catch {
            state.say("\(error): not changed", error: true)
            return false
        }
        update { $0.routing.mask = proposed }
        return true
    }

    /// Adaptive gating at ε, or off for nil.
    func setAdaptive(_ epsilon: Double?) {
        guard let calibration = state.calibration else {
            state.say("no calibration.json for this model: run `moepp calibrate --model …`", error: true)
            return
        }
        if let epsilon {
            state.adaptiveEpsilon = epsilon
            update { $0.routing.adaptiveGate = AdaptiveGate(calibration: calibration, epsilon: epsilon) }
            if let reason = AdaptiveGate.inactiveReason(topK: currentTopK) { state.say("adaptive gating on, ε = \(epsilon), but idle: \(reason)", error: true) } else { state.say("adaptive gating on, ε = \(epsilon)") }
        } else {
            update { $0.routing.adaptiveGate = nil }
            state.say("adaptive gating off")
        }
    }

    func setTopK(_ k: Int) {
        let clamped = max(1, min(state.config.numExperts, k))
        update { $0.routing.topK = clamped == state.config.topK ? nil : clamped }
        sayTopK()
    }

    var currentTopK: Int { controls.current.routing.topK ?? state.config.topK }

    /// The new top-k, and why adaptive gating (if on) now does nothing.
    func sayTopK() {
        if controls.current.routing.adaptiveGate != nil, let reason = AdaptiveGate.inactiveReason(topK: currentTopK) {
            state.say("router top-k = \(currentTopK); \(reason)", error: true)
        } else {
            state.say("router top-k = \(currentTopK)")
        }
    }

    func setTemperature(_ t: Float) {
        let clamped = max(0, min(10, (t * 10).rounded() / 10))
        update { $0.sampling.temperature = clamped }
        state.say(clamped == 0 ? "greedy decoding" : String(format: "temperature %.1f", clamped))
    }

    func send() -> Effect {
        let line = state.input.string.trimmingCharacters(in: .whitespaces)
        guard !line.allSatisfy(\.isWhitespace) else { return .none }
        // A command is one line; a multi-line prompt that starts with "/" is a prompt.
        if line.hasPrefix("/") && !line.contains("\n") {
            _ = state.input.submit()
            switch SlashCommand.parse(line) {
            case .success(let command): return run(command)
            case .failure(let error): state.say(error.message, error: true); return .redraw
            }
        }
        guard !state.generating else { state.say("still generating — Ctrl+C stops it", error: true); return .redraw }
        let prompt = state.input.submit()
        return .startGeneration(prompt)
    }

    public func run(_ command: SlashCommand) -> Effect {
        switch command {
        case .zero(let on): setKind(\.zeroEnabled, on, "zero experts")
        case .copy(let on): setKind(\.copyEnabled, on, "copy experts")
        case .constant(let on): setKind(\.constantEnabled, on, "constant experts")
        case .residual(let on): setResidual(on)
        case .expert(let index, let on):
            guard index < state.config.numExperts else { state.say("/expert: the model has experts 0…\(state.config.numExperts - 1)", error: true); break }
            var proposed = controls.current.routing.mask
            if on { proposed.disabledExperts.remove(index) } else { proposed.disabledExperts.insert(index) }
            if setMask(proposed) { state.say("expert \(index) (\(state.config.kind(ofExpert: index))) \(on ? "on" : "off")") }
        case .adaptive(let epsilon):
            setAdaptive(epsilon.map { $0 < 0 ? state.adaptiveEpsilon : $0 })
        case .topK(let k):
            if let k { setTopK(k) } else { update { $0.routing.topK = nil }; sayTopK() }
        case .temperature(let t): setTemperature(t)
        case .topP(let p):
            update { $0.sampling.topP = p }
            state.say(String(format: "top-p %.2f", p))
        case .seed(let s):
            update { $0.sampling.seed = s }
            state.say("seed \(s)")
        case .maxTokens(let n):
            state.maxTokens = n
            state.say("\(n) tokens per reply")
        case .clear:
            guard !state.generating else { state.say("stop generating first (Ctrl+C)", error: true); break }
            state.clear()
            state.say("conversation cleared")
            return .resetConversation
        case .save(let path, let replace): return .save(path, replace: replace)
        case .retry:
            guard !state.generating else { state.say("stop generating first (Ctrl+C)", error: true); break }
            guard !state.turns.isEmpty else { state.say("/retry: no reply to regenerate yet", error: true); break }
            return .retry
        case .load(let path):
            guard !state.generating else { state.say("stop generating first (Ctrl+C)", error: true); break }
            return .load(path)
        case .model(let path):
            guard !state.generating else { state.say("stop generating first (Ctrl+C)", error: true); break }
            return .switchModel(path)
        case .ab(let changes): return startABReplay(changes)
        case .help: state.showHelp = true; state.helpScroll = 0
        case .statistics: openStatistics()
        case .quit: return .quit
        }
        return .redraw
    }

    func setResidual(_ on: Bool) {
        guard state.config.hasGatingResidual else { state.say("this model has no gating residual", error: true); return }
        update { $0.routing.gatingResidual = on }
        state.say("gating residual \(on ? "on" : "off")")
    }

    func setKind(_ path: WritableKeyPath<ExpertMask, Bool>, _ on: Bool, _ name: String) {
        guard state.config.hasZeroComputationExperts else { state.say("this model has no zero-computation experts", error: true); return }
        var proposed = controls.current.routing.mask
        proposed[keyPath: path] = on
        if setMask(proposed) { state.say("\(name) \(on ? "on" : "off") from the next token") }
    }
}
