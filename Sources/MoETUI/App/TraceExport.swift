import Foundation
import MoEKit

/// `/export` and the session autosave: the conversation and its routing trace as one JSON
/// document (non-finite numbers are null: see `FiniteOrNull`), written by `SafeFileWrite`.
public enum TraceExport {
    struct Document: Encodable {
        let model: String
        let family: String
        /// How the records' weights were formed (routing, renormalisation, shared experts); the
        /// records hold the outcome, each layer's `shared` the always-on experts' weights.
        let weightRule: WeightRule
        let settings: [String: String]
        let turns: [TurnRecord]
        let tokens: [TokenRouting]
    }

    struct TurnRecord: Encodable {
        let prompt: String
        let reply: String
    }

    public static func document(_ state: PlaygroundState) throws -> Data {
        let routing = state.settings.routing
        let settings = [
            "zero": "\(routing.mask.zeroEnabled)", "copy": "\(routing.mask.copyEnabled)", "constant": "\(routing.mask.constantEnabled)",
            "gatingResidual": "\(routing.gatingResidual)", "topK": "\(routing.topK ?? state.config.topK)",
            "temperature": "\(state.settings.sampling.temperature)", "disabledExperts": routing.mask.disabledExperts.sorted().map(String.init).joined(separator: ","),
        ]
        let document = Document(model: state.modelName, family: state.config.family.rawValue, weightRule: state.config.weightRule, settings: settings,
                                turns: state.turns.map { TurnRecord(prompt: $0.prompt, reply: $0.reply) }, tokens: state.tokens)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(document)
    }

    /// Writes the trace to `path`; an existing file only with `replace` (`/export! PATH`).
    public static func write(_ state: PlaygroundState, to path: String, replace: Bool = false) throws {
        try SafeFileWrite.write(try document(state), to: path, replace: replace)
    }

    /// `/export`'s effect: write, and say what happened in one line.
    public static func run(_ state: PlaygroundState, to path: String, replace: Bool) {
        do {
            try write(state, to: path, replace: replace)
            state.say("exported \(state.tokens.count) tokens to \(path)")
        } catch SafeFileWrite.Failure.exists(let existing) {
            state.say("\(existing) exists: /export! \(existing) replaces it", error: true)
        } catch {
            state.say("export failed: \(error)", error: true)
        }
    }
}
