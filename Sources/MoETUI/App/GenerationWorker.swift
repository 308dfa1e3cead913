import Foundation
import MoEKit

/// Runs generation on its own thread (a `BackgroundJob`) so that the interface stays responsive.
/// Events queue up there and the UI drains them at its own drawing rate.
public final class GenerationWorker: @unchecked Sendable {
    public enum Output: Sendable {
        case event(GenerationEvent)
        case failed(String)
    }

    let generator: Generator
    private let job = BackgroundJob<Output>()

    public init(generator: Generator) { self.generator = generator }

    public var isRunning: Bool { job.isRunning }

    public func start(_ plan: ContextWindow) {
        let generator = generator
        job.start { shouldStop, push in
            do {
                try plan.run(on: generator, shouldStop: shouldStop) { push(.event($0)) }
            } catch {
                push(.failed("\(error)"))
            }
        }
    }

    public func stop() { job.stop() }
    public func stopAndWait(seconds: Double = 5) { job.stopAndWait(seconds: seconds) }
    public func drain() -> [Output] { job.drain() }
}
