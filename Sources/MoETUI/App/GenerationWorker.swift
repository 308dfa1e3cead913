import Foundation
import MoEKit

/// Runs generation on its own thread so that the interface stays responsive. Events queue up
/// here and the UI drains them at its own drawing rate.
public final class GenerationWorker: @unchecked Sendable {
    public enum Output: Sendable {
        case event(GenerationEvent)
        case failed(String)
    }

    let generator: Generator
    private let lock = NSLock()
    private var queue: [Output] = []
    private var stopFlag = false
    private var running = false
    private var thread: Thread?

    public init(generator: Generator) { self.generator = generator }

    public var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    public func start(_ plan: ContextWindow) {
        lock.lock()
        stopFlag = false
        running = true
        lock.unlock()
        let thread = Thread { [self] in
            do {
                try plan.run(on: self.generator, shouldStop: { self.shouldStop }) { event in
                    self.push(.event(event))
                }
            } catch {
                self.push(.failed("\(error)"))
            }
            self.lock.lock(); self.running = false; self.lock.unlock()
        }
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    public func stop() { lock.lock(); stopFlag = true; lock.unlock() }

    var shouldStop: Bool { lock.lock(); defer { lock.unlock() }; return stopFlag }

    /// Stops and waits (bounded) for the thread to finish its current token.
    public func stopAndWait(seconds: Double = 5) {
        stop()
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning && Date() < deadline { usleep(5_000) }
    }

    func push(_ output: Output) { lock.lock(); queue.append(output); lock.unlock() }

    public func drain() -> [Output] {
        lock.lock(); defer { lock.unlock() }
        let drained = queue
        queue = []
        return drained
    }
}
