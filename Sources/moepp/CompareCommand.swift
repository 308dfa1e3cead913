import ArgumentParser
import Foundation
import MoEKit

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Evaluate models side by side on held-out text: perplexity, routing, token classes, expert-layer and decode speed.")

    @Option(name: .shortAndLong, help: "Model directories (repeatable).") var model: [String] = ["Assets/models/moepp-tiny", "Assets/models/moe-tiny"]
    @Option(help: "Directory of held-out .txt files.") var validation = "corpus/validation"
    @Option(name: .customLong("max-tokens"), help: "Evaluate at most this many tokens.") var maxTokens = 20_000
    @Option(help: "Decode repeats (median).") var repeats = 5
    @Flag(help: "Print JSON instead of tables.") var json = false
    @Option(help: "Also evaluate with AdapMoE adaptive gating at this ε (repeatable; models with calibration.json).") var adaptive: [Double] = []

    func validate() throws {
        guard maxTokens >= 2 else { throw ValidationError("--max-tokens: expected at least 2, found \(maxTokens)") }
        guard repeats >= 1 else { throw ValidationError("--repeats: expected at least 1, found \(repeats)") }
        if let epsilon = adaptive.first(where: { !($0 > 0 && $0.isFinite) }) { throw ValidationError("--adaptive: ε must be a positive finite number, found \(epsilon)") }
    }

    func run() throws {
        let text = try corpusFiles(validation).map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n")
        var results: [(String, ModelEvaluation.Result)] = []
        for directory in model {
            let generator = try Generator(directory: directory)
            var evaluation = ModelEvaluation(model: generator.model, tokenizer: generator.tokenizer)
            evaluation.maximumTokens = maxTokens
            evaluation.repeats = repeats
            let name = (directory as NSString).lastPathComponent
            results.append((name, try evaluation.run(text: text)))
            if !adaptive.isEmpty, let calibration = try Calibrator.load(directory: directory) {
                for epsilon in adaptive {
                    evaluation.controls = RoutingControls(adaptiveGate: AdaptiveGate(calibration: calibration, epsilon: epsilon))
                    results.append(("\(name) adaptive ε=\(epsilon)", try evaluation.run(text: text)))
                }
            }
        }
        if json {
            for (name, result) in results { JSONLines.print(["model": name]); JSONLines.print(result) }
            return
        }
        print("| model | val loss | perplexity | FFN experts/token/layer | per layer | slots ffn/zero/copy/const | expert-layer tok/s | decode tok/s |")
        print("|---|---|---|---|---|---|---|---|")
        for (name, r) in results {
            let perLayer = r.ffnPerLayer.map { String(format: "%.2f", $0) }.joined(separator: " ")
            let shares = ["ffn", "zero", "copy", "const"].map { String(format: "%.2f", r.slotShare[$0] ?? 0) }.joined(separator: "/")
            print(String(format: "| %@ | %.3f | %.1f | %.2f | %@ | %@ | %.0f | %.1f |", name, r.validationLoss, r.perplexity,
                         r.ffnPerTokenPerLayer, perLayer, shares, r.expertLayerTokensPerSecond, r.decodeTokensPerSecond))
        }
        if results.count == 2 && adaptive.isEmpty {
            let (a, b) = (results[0].1, results[1].1)
            print(String(format: "\n%@ / %@: expert-layer throughput ×%.2f, decode ×%.2f, FFN experts ×%.2f",
                         results[0].0, results[1].0, a.expertLayerTokensPerSecond / b.expertLayerTokensPerSecond,
                         a.decodeTokensPerSecond / b.decodeTokensPerSecond, a.ffnPerTokenPerLayer / b.ffnPerTokenPerLayer))
        }
        print("\nFFN experts per token per layer by token class (tokens):")
        print("| class | " + results.map(\.0).joined(separator: " | ") + " |")
        print("|---|" + String(repeating: "---|", count: results.count))
        for tokenClass in TokenClass.allCases {
            let cells = results.map { _, r in r.classes[tokenClass.rawValue].map { String(format: "%.2f (%d)", $0.ffnPerTokenPerLayer, $0.tokens) } ?? "—" }
            print("| \(tokenClass.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
    }
}
