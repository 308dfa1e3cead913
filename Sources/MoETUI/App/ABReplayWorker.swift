import Foundation
import MoEKit

/// Runs an A/B replay on its own thread (like `GenerationWorker` does a reply), so the screen
/// keeps drawing; the UI polls for progress and the result.
public final class ABReplayWorker: @unchecked Sendable {
    public enum Output: Sendable {
        case progress(String)
        case finished(SettingsComparison)
        case stopped
        case failed(String)
    }

    private let job = BackgroundJob<Output>()

    public init() {}

    public var isRunning: Bool { job.isRunning }

    /// Replays on `generator`'s model and tokenizer (its conversation is not touched).
    public func start(_ replay: SettingsReplay, on generator: Generator) {
        let (model, tokenizer) = (generator.model, generator.tokenizer)
        job.start { shouldStop, push in
            do {
                let comparison = try replay.run(model: model, tokenizer: tokenizer, shouldStop: shouldStop) { side, _ in
                    push(.progress("A/B replay: running \(side) (\(side == "A" ? replay.aSetting : replay.bSetting))…"))
                }
                push(.finished(comparison))
            } catch is ReplayStopped {
                push(.stopped)
            } catch {
                push(.failed("\(error)"))
            }
        }
    }

    public func stop() { job.stop() }
    public func stopAndWait(seconds: Double = 5) { job.stopAndWait(seconds: seconds) }
    public func drain() -> [Output] { job.drain() }
}

extension PlaygroundState {
    /// Takes in what the A/B worker reported: progress on the status line, the comparison onto
    /// the A/B screen. The replay holds the model like a reply does, so `generating` covers it.
    public func apply(_ output: ABReplayWorker.Output) {
        switch output {
        case .progress(let text): say(text)
        case .finished(let comparison):
            generating = false
            ab.show(comparison, modelPath: modelPath)
            say("A/B replay done: \(comparison.changedChoices) changed expert choices; Esc returns")
        case .stopped:
            generating = false
            stopRequested = false
            say("A/B replay stopped")
        case .failed(let message):
            generating = false
            say("A/B replay failed: \(message)", error: true)
        }
    }
}
