import ArgumentParser
import Foundation
import MoEKit

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Continue a prompt, streaming text (or per-token routing records with --json).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var routing: RoutingOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var cacheOptions: CacheOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate.") var maxTokens = 64
    @Flag(help: "Stream one JSON object per generated token: id, text, routing, seconds.") var json = false
    @Flag(name: .customLong("memory-report"), help: "Print peak and current resident memory (anonymous vs mapped weights) at the end.") var memoryReport = false
    @OptionGroup var promptOptions: PromptOptions

    /// A generated token as one JSON line.
    struct TokenLine: Encodable {
        let id: Int
        let text: String
        let seconds: Double
        let routing: TokenRouting
    }

    struct SummaryLine: Encodable {
        let finished: String
        let promptTokens: Int
        let generatedTokens: Int
        let promptTokensPerSecond: Double
        let decodeTokensPerSecond: Double
        /// How the records' weights were formed (the family's rule; the records hold the outcome).
        let weightRule: WeightRule
    }

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens: expected 0 or more, found \(maxTokens)") }
        try cacheOptions.validate(loading: modelOptions.loading)
    }

    func run() throws {
        try precision.apply()
        let prompt = try promptOptions.text()
        let generator = try modelOptions.loadGenerator(expertCache: cacheOptions.expertBudget != nil)
        try cacheOptions.apply(to: generator.model, directory: modelOptions.directory)
        let controls = try routing.controls(for: generator.model.config, modelDirectory: modelOptions.directory)
        generator.controls.update { $0 = GenerationSettings(routing: controls, sampling: sampling.settings()) }
        let report = try generator.generate(prompt: prompt, maxTokens: maxTokens) { event in
            switch event {
            // Echoed once the prompt is accepted: a refused prompt prints nothing on stdout.
            case .prompt: if !json { FileHandle.standardOutput.write(Data(prompt.utf8)) }
            case .token(let token):
                if json {
                    JSONLines.print(TokenLine(id: token.id, text: token.text, seconds: token.seconds, routing: token.routing))
                } else {
                    FileHandle.standardOutput.write(Data(token.text.utf8))
                }
            case .finished(let report):
                if !json { FileHandle.standardOutput.write(Data((report.trailingText + "\n").utf8)) }
            }
        }
        let promptRate = report.promptSeconds > 0 ? Double(report.promptTokens) / report.promptSeconds : 0
        if json {
            JSONLines.print(SummaryLine(finished: report.reason.rawValue, promptTokens: report.promptTokens, generatedTokens: report.generatedTokens,
                                        promptTokensPerSecond: promptRate, decodeTokensPerSecond: report.decodeTokensPerSecond,
                                        weightRule: generator.model.config.weightRule))
        } else {
            let line = String(format: "[%d prompt tokens at %.1f tok/s, %d generated at %.1f tok/s, stop: %@]\n",
                              report.promptTokens, promptRate, report.generatedTokens, report.decodeTokensPerSecond, report.reason.rawValue)
            FileHandle.standardError.write(Data(line.utf8))
            if memoryReport, let memory = ProcessMemory.current() {
                FileHandle.standardError.write(Data(("[" + memory.summary + "]\n").utf8))
            }
        }
    }
}
