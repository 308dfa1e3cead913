import ArgumentParser
import Foundation
import MoEKit

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Run token ids through the model and print the last position's logits as JSON (for cross-checking).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var routing: RoutingOptions
    @OptionGroup var precision: PrecisionOptions
    @Option(help: "Comma-separated token ids, e.g. 1,15,300.") var tokens: String
    @Flag(help: "Print the logits of every position, not just the last.") var all = false

    /// Non-finite logits are written as null (JSON has no NaN).
    struct Output: Encodable {
        let tokens: [Int]
        let logits: [[Float?]]
    }

    func run() throws {
        try precision.apply()
        let parts = tokens.split(separator: ",", omittingEmptySubsequences: false)
        let ids = try parts.enumerated().map { index, part -> Int in
            guard let id = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--tokens: item \(index) (\"\(part)\") is not an integer")
            }
            return id
        }
        guard !ids.isEmpty else { throw ValidationError("--tokens: no token ids") }
        modelOptions.loadingOptions.applyInterleaving(expertCache: false)
        let model = try Transformer(directory: modelOptions.directory, loading: modelOptions.loading)
        // The same one-line refusal as `generate` and `route` (the forward pass's own error is terser).
        guard ids.count <= model.config.maxPositionEmbeddings else {
            throw GenerationError.promptTooLong(tokens: ids.count, used: 0, context: model.config.maxPositionEmbeddings, reply: false)
        }
        let output = try model.forward(ids, cache: model.makeCache(), controls: try routing.controls(for: model.config, modelDirectory: modelOptions.directory), allLogits: all)
        let vocabulary = model.config.vocabSize
        let rows = output.logits.count / vocabulary
        JSONLines.print(Output(tokens: ids, logits: (0..<rows).map { FiniteOrNull.wrap(Array(output.logits[$0 * vocabulary..<($0 + 1) * vocabulary])) }))
    }
}
