import MoEKit

/// `/ab SETTING` and the keys of the A/B screen.
extension PlaygroundController {
    /// Replays the last prompt from an empty context under A = the live toggles at temperature 0
    /// and B = A with `changes`; `/ab` alone shows the last comparison again.
    func startABReplay(_ changes: [SettingChange]?) -> Effect {
        guard let changes else {
            guard let comparison = state.ab.comparison, state.ab.modelPath == state.modelPath else { state.say("/ab: no A/B replay yet; try /ab zero=off", error: true); return .redraw }
            state.ab.show(comparison, modelPath: state.modelPath)
            return .redraw
        }
        guard !state.generating else { state.say("still generating — Ctrl+C stops it", error: true); return .redraw }
        guard let prompt = state.turns.last?.prompt else { state.say("/ab replays the last prompt: send one first", error: true); return .redraw }
        let a = SettingsReplay.deterministic(controls.current)
        do {
            var replay = SettingsReplay(prompt: prompt, maxTokens: state.maxTokens, a: a,
                                        b: try SettingChange.apply(changes, to: a, config: state.config, calibration: state.calibration))
            replay.aSetting = "live"
            replay.bSetting = SettingChange.describe(changes)
            return .abReplay(replay)
        } catch {
            state.say("/ab: \(error)", error: true)
            return .redraw
        }
    }

    /// Keys while the A/B screen is up; nil lets the usual handling run (e.g. Ctrl+C, F10).
    /// Typing leaves the screen for the prompt, so that a next `/ab …` is seen as it is typed.
    func handleABScreen(_ key: Key) -> Effect? {
        guard let action = ABScreenKeys.action(for: key) else {
            if case .character = key { state.ab.visible = false; state.focus = .input }
            return nil
        }
        let mapTokens = state.ab.comparison.map { max($0.a.trace.count, $0.b.trace.count) } ?? 0
        let first = state.ab.mapFirstToken ?? ABMapView.centredFirstToken(state, layout: layout)
        switch action {
        case .close: state.ab.visible = false
        case .flipMap: state.ab.showingB.toggle()
        case .scrollLeft: state.ab.mapFirstToken = max(0, first - 1)
        case .scrollRight: state.ab.mapFirstToken = max(0, min(mapTokens - 1, first + 1))
        case .layerUp: state.ab.mapFirstLayer = max(0, state.ab.mapFirstLayer - 1)
        case .layerDown: state.ab.mapFirstLayer = max(0, min(state.config.numLayers - 1, state.ab.mapFirstLayer + 1))
        case .centre: state.ab.mapFirstToken = nil
        }
        return .redraw
    }
}
