import Foundation
import MoEKit

/// `/export`: the session's routing trace as one JSON document, written atomically.
public enum TraceExport {
    struct Document: Encodable {
        let model: String
        let settings: [String: String]
        let turns: [TurnRecord]
        let tokens: [TokenRouting]
    }

    struct TurnRecord: Encodable {
        let prompt: String
        let reply: String
    }

    public static func write(_ state: PlaygroundState, to path: String) throws {
        let routing = state.settings.routing
        let settings = [
            "zero": "\(routing.mask.zeroEnabled)", "copy": "\(routing.mask.copyEnabled)", "constant": "\(routing.mask.constantEnabled)",
            "gatingResidual": "\(routing.gatingResidual)", "topK": "\(routing.topK ?? state.config.topK)",
            "temperature": "\(state.settings.sampling.temperature)", "disabledExperts": routing.mask.disabledExperts.sorted().map(String.init).joined(separator: ","),
        ]
        let document = Document(model: state.modelName, settings: settings,
                                turns: state.turns.map { TurnRecord(prompt: $0.prompt, reply: $0.reply) }, tokens: state.tokens)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(document), to: path)
    }
}
