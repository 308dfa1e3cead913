import Foundation
import MoEKit

/// `/model`, `/load` and `/retry`: the commands that change what the generator holds. Each is
/// all-or-nothing: on an error the current model, conversation and settings stay as they were.
extension PlaygroundApp {
    /// `/model PATH`: one line either way.
    func switchModelCommand(_ path: String) {
        do {
            let opened = try open(path)
            switchModel(to: opened)
            state.say("model \(state.modelName): \(state.config.numLayers) layers, \(state.config.numExperts) experts, top-\(state.config.topK)"
                      + (opened.notes.isEmpty ? "" : "; " + opened.notes.joined(separator: "; ")))
        } catch {
            state.say("model not switched: \(error)", error: true)
        }
    }

    /// A model opened but not yet in use, with the settings it will run under.
    struct OpenedModel {
        var generator: Generator
        var calibration: Calibration?
        var path: String
        var settings: GenerationSettings
        /// What had to change in the settings.
        var notes: [String] = []
    }

    /// Opens `path`; nothing changes in the playground yet. Settings the new model cannot run
    /// fall back to its defaults.
    func open(_ path: String) throws -> OpenedModel {
        let absolute = Self.absolute(path)
        let (opened, calibration) = try openModel(absolute, generator.controls)
        let config = opened.model.config
        var result = OpenedModel(generator: opened, calibration: calibration, path: absolute, settings: generator.controls.current)
        let routing = result.settings.routing
        if routing.mask.disabledExperts.contains(where: { $0 >= config.numExperts }) || (try? routing.mask.check(config)) == nil
            || (routing.topK ?? 0) > config.numExperts {
            result.settings.routing.mask = ExpertMask()
            result.settings.routing.topK = nil
            result.notes.append("expert toggles reset (they do not fit this model)")
        }
        if routing.adaptiveGate != nil {
            if let calibration, calibration.layers.count == config.numLayers {
                result.settings.routing.adaptiveGate = AdaptiveGate(calibration: calibration, epsilon: state.adaptiveEpsilon)
            } else {
                result.settings.routing.adaptiveGate = nil
                result.notes.append("adaptive gating off (no calibration.json)")
            }
        }
        return result
    }

    /// Makes an opened model the one in use; the old model's conversation is forgotten.
    func switchModel(to opened: OpenedModel) {
        generator.controls.update { $0 = opened.settings }
        generator = opened.generator
        worker = GenerationWorker(generator: opened.generator)
        replayPending = false
        reread = false
        state.switchModel(config: opened.generator.model.config, name: Self.name(of: opened.path), path: opened.path)
        state.settings = generator.controls.current
        describe(opened.generator, calibration: opened.calibration)
    }

    /// `/load FILE`: the session's model (switched to when it is another), settings, conversation
    /// and trace — all or nothing. The model's cache is filled lazily: the next prompt first
    /// re-reads the conversation's exact ids (or, for a conversation that had slid, its newest
    /// turns' text).
    func load(_ path: String) {
        do {
            let session = try PlaygroundSession.load(from: path)
            var other: OpenedModel?
            if Self.absolute(session.model.path) != state.modelPath {
                do { other = try open(session.model.path) } catch { throw SessionFileError.malformed(path, field: "model.path", detail: "\(error)") }
            }
            try check(session, file: path, config: other?.generator.model.config ?? state.config)
            if let other { switchModel(to: other) }
            generator.controls.update { $0 = session.settings.generationSettings }
            state.settings = generator.controls.current
            state.restore(session)
            generator.reset()
            let ids = session.tokens.map(\.tokenId)
            let exact = session.turns.allSatisfy { $0.notice == nil } && ids.count < generator.cache.maximumLength
                && ids.allSatisfy { (0..<state.config.vocabSize).contains($0) }
            replayPending = exact
            reread = !exact && !session.turns.isEmpty
            state.say("loaded \(session.turns.count) turn\(session.turns.count == 1 ? "" : "s"), \(session.tokens.count) tokens from \(path)")
        } catch {
            state.say("not loaded: \(error)", error: true)
        }
    }

    /// The session must have run on a model of this shape, with settings it can run.
    func check(_ session: PlaygroundSession, file: String, config: ModelConfig) throws {
        let here = PlaygroundSession.ModelSummary(path: "", name: "", config: config)
        guard here.layers == session.model.layers, here.expertKinds == session.model.expertKinds else {
            throw SessionFileError.malformed(file, field: "model", detail: "saved with \(session.model.layers) layers × \(session.model.expertKinds.count) experts; the model has \(here.layers) × \(here.expertKinds.count)")
        }
        do { try session.settings.check(for: config) } catch SessionFileError.malformed(_, let field, let detail) {
            throw SessionFileError.malformed(file, field: "settings." + field, detail: detail)
        }
    }

    /// `/retry`: forgets the last turn and sends its prompt again — the same ids, read from the
    /// same context — under the current settings.
    func retry() {
        let notice = state.turns.last?.notice
        guard let last = state.dropLastTurn() else { return }
        let plan: ContextWindow
        if last.ids.isEmpty || reread {
            // The turn never reached the model (or its context is not known exactly): send it anew.
            start(last.prompt)
            return
        } else if replayPending {
            plan = ContextWindow(replay: state.replaySegments(fallback: generator.controls.current.routing), prompt: last.ids,
                                 maxTokens: state.maxTokens, keptTurns: state.turns.count, notice: nil)
            replayPending = false
        } else {
            generator.cache.truncate(to: last.position ?? generator.cache.length)
            plan = ContextWindow(replay: nil, prompt: last.ids, maxTokens: state.maxTokens, keptTurns: state.turns.count, notice: nil)
        }
        state.beginTurn(prompt: last.prompt, notice: notice)
        worker.start(plan)
        state.say("regenerating the last reply")
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: NSString(string: path).expandingTildeInPath).standardizedFileURL.path
    }
}
