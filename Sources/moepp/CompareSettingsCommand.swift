import ArgumentParser
import Foundation
import MoEKit

struct CompareSettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-settings",
        abstract: "Run one prompt under two settings (A/B) and compare replies, routing changes per layer, FFN experts and decode speed.",
        discussion: "A setting is key=value items separated by commas or spaces, applied on top of the model's defaults at temperature 0: "
            + SettingChange.syntax.map { "\($0.0) (\($0.1))" }.joined(separator: "; ") + ". 'same' is no change.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The prompt.") var prompt: String?
    @Option(name: .customLong("prompt-file"), help: "Read the prompt from this file ('-': standard input).") var promptFile: String?
    @Option(name: .customLong("a"), help: "Setting A (default: same, the model's own).") var settingA = "same"
    @Option(name: .customLong("b"), help: "Setting B, e.g. zero=off, residual=off, top-k=1, adaptive=0.03, disable=5.") var settingB: String
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate per side.") var maxTokens = 32
    @Option(help: "Run A and B this many times, interleaved, for the decode rates (median, min–max).") var repeats = 1
    @Flag(help: "Print the comparison (with both routing traces) as one JSON object.") var json = false

    func validate() throws {
        guard (prompt == nil) != (promptFile == nil) else { throw ValidationError("give the prompt with --prompt or --prompt-file (one of them)") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens: expected 1 or more, found \(maxTokens)") }
        guard repeats >= 1 else { throw ValidationError("--repeats: expected 1 or more, found \(repeats)") }
    }

    /// The prompt as given, or read as `generate --prompt-file` reads it (same errors, same final-newline rule).
    func readPrompt() throws -> String {
        if let prompt { return prompt }
        return try PromptOptions.parse(["--prompt-file", promptFile!]).text()
    }

    func run() throws {
        let text = try readPrompt()
        let changesA: [SettingChange], changesB: [SettingChange]
        do { changesA = try SettingChange.parseList(settingA) } catch { throw ValidationError("--a: \(error)") }
        do { changesB = try SettingChange.parseList(settingB) } catch { throw ValidationError("--b: \(error)") }
        let generator = try modelOptions.loadGenerator()
        let config = generator.model.config
        let needsCalibration = (changesA + changesB).contains { if case .adaptive(.some) = $0 { return true } else { return false } }
        let calibration = needsCalibration ? try Calibrator.load(directory: modelOptions.directory) : nil
        let base = SettingsReplay.deterministic(GenerationSettings())
        func settings(_ changes: [SettingChange], _ flag: String) throws -> GenerationSettings {
            do { return try SettingChange.apply(changes, to: base, config: config, calibration: calibration) } catch { throw ValidationError("\(flag): \(error)") }
        }
        var replay = SettingsReplay(prompt: text, maxTokens: maxTokens, a: try settings(changesA, "--a"), b: try settings(changesB, "--b"))
        replay.aSetting = SettingChange.describe(changesA)
        replay.bSetting = SettingChange.describe(changesB)
        replay.repeats = repeats
        let comparison = try replay.run(model: generator.model, tokenizer: generator.tokenizer)
        if json { JSONLines.print(comparison) } else { print(Self.report(comparison)) }
    }

    /// The comparison as text: replies with the divergence marked ‖, per-layer changes, cost, speed.
    static func report(_ c: SettingsComparison) -> String {
        var lines = ["prompt: \(c.promptTokens) tokens; compared positions (common prefix): \(c.comparedPositions)"]
        for (name, side) in [("A", c.a), ("B", c.b)] {
            let (common, rest) = c.split(side)
            lines.append("\(name) [\(side.setting)] (\(side.tokenIds.count) tokens, \(side.finish)): \(common)\(c.divergence == nil ? "" : "‖")\(rest)")
        }
        if let d = c.divergence, let position = c.divergencePosition {
            lines.append("replies diverge at generated token \(d) (position \(position))")
        } else {
            lines.append("replies are identical")
        }
        lines.append("| layer | changed | share |")
        lines.append("|---|---|---|")
        for layer in c.layers { lines.append(String(format: "| L%d | %d/%d | %.0f%% |", layer.layer, layer.changed, layer.compared, layer.share * 100)) }
        lines.append(String(format: "FFN experts/token: A %.2f, B %.2f", c.a.ffnExpertsPerToken, c.b.ffnExpertsPerToken))
        func rate(_ side: ReplaySide) -> String {
            let rates = side.decodeRates
            guard rates.count > 1 else { return String(format: "%.1f", side.medianDecodeRate) }
            return String(format: "%.1f (%.1f–%.1f, %d runs)", side.medianDecodeRate, rates.min()!, rates.max()!, rates.count)
        }
        lines.append("decode tok/s: A \(rate(c.a)), B \(rate(c.b))")
        return lines.joined(separator: "\n")
    }
}
