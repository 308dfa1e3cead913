import ArgumentParser
import Foundation
import MoEKit

struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Print the routing trace of a prompt (and optionally its continuation) as JSON, one object per token.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var routing: RoutingOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var cacheOptions: CacheOptions
    @Option(help: "Also generate this many tokens (greedy) and trace them.") var generate = 0
    @OptionGroup var promptOptions: PromptOptions

    func validate() throws {
        guard generate >= 0 else { throw ValidationError("--generate: expected 0 or more, found \(generate)") }
        try cacheOptions.validate(loading: modelOptions.loading)
    }

    func run() throws {
        try precision.apply()
        let prompt = try promptOptions.text()
        let generator = try modelOptions.loadGenerator(expertCache: cacheOptions.expertBudget != nil)
        try cacheOptions.apply(to: generator.model, directory: modelOptions.directory)
        let controls = try routing.controls(for: generator.model.config, modelDirectory: modelOptions.directory)
        generator.controls.update { $0.routing = controls }
        try generator.generate(prompt: prompt, maxTokens: generate) { event in
            switch event {
            case .prompt(let report): report.tokens.forEach(JSONLines.print)
            case .token(let token): JSONLines.print(token.routing)
            case .finished: break
            }
        }
    }
}
