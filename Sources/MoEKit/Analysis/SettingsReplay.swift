import Foundation

/// Runs one prompt under two settings (A and B) from an empty context and compares them (see
/// `SettingsComparison`). Each side gets its own generator and KV cache over the same loaded
/// model, so a playground's conversation is left as it was. Only one forward pass runs at a time:
/// the caller must not generate on the same model meanwhile.
///
/// Speed: with `repeats` > 1 the sides run interleaved (A B A B …) so that machine load falls on
/// both alike; the texts and traces are those of the first run, the rates one per run.
public struct SettingsReplay: Sendable, Equatable {
    public var prompt: String
    public var maxTokens: Int
    public var a: GenerationSettings
    public var b: GenerationSettings
    /// The settings as typed, for the report ("same" for no change).
    public var aSetting = "same"
    public var bSetting = "same"
    public var repeats = 1

    public init(prompt: String, maxTokens: Int, a: GenerationSettings, b: GenerationSettings) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.a = a
        self.b = b
    }

    /// The usual base of a comparison: `settings` at temperature 0, so both replies are greedy
    /// and any difference is the setting's, not the sampler's.
    public static func deterministic(_ settings: GenerationSettings) -> GenerationSettings {
        var result = settings
        result.sampling.temperature = 0
        return result
    }

    /// Replays both sides; `shouldStop` is polled between tokens and ends the replay with
    /// `ReplayStopped`. `onProgress` hears which side is running ("A" or "B") and its run number.
    public func run(model: Transformer, tokenizer: Tokenizer, shouldStop: @escaping () -> Bool = { false },
                    onProgress: (String, Int) -> Void = { _, _ in }) throws -> SettingsComparison {
        var sideA: ReplaySide?, sideB: ReplaySide?
        var promptTokens = 0
        for run in 0..<max(1, repeats) {
            for (name, settings, setting) in [("A", a, aSetting), ("B", b, bSetting)] {
                onProgress(name, run + 1)
                let generator = Generator(model: model, tokenizer: tokenizer, controls: LiveControls(settings))
                var side = ReplaySide(setting: setting, settings: SessionSettings(settings, maxTokens: maxTokens, adaptiveEpsilon: nil), text: "", tokenIds: [], pieces: [],
                                      finish: "", ffnExpertsPerToken: 0, decodeRates: [], trace: [])
                let report = try generator.generate(prompt: prompt, maxTokens: maxTokens, shouldStop: shouldStop) { event in
                    switch event {
                    case .prompt(let report): side.trace = report.tokens
                    case .token(let token):
                        side.tokenIds.append(token.id)
                        side.pieces.append(token.text)
                        side.text += token.text
                        side.trace.append(token.routing)
                    case .finished(let report): side.text += report.trailingText
                    }
                }
                if report.reason == .stopped { throw ReplayStopped() }
                promptTokens = report.promptTokens
                side.finish = report.reason.rawValue
                side.ffnExpertsPerToken = side.trace.isEmpty ? 0 : Double(side.trace.reduce(0) { $0 + $1.ffnExpertsComputed }) / Double(side.trace.count)
                let rate = report.decodeTokensPerSecond
                if name == "A" {
                    if sideA == nil { sideA = side }
                    sideA!.decodeRates.append(rate)
                } else {
                    if sideB == nil { sideB = side }
                    sideB!.decodeRates.append(rate)
                }
            }
        }
        return SettingsComparison(prompt: prompt, promptTokens: promptTokens, a: sideA!, b: sideB!)
    }
}

/// The replay was stopped before both sides finished.
public struct ReplayStopped: Error, CustomStringConvertible {
    public var description: String { "A/B replay stopped" }
}
