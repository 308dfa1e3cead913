import Foundation

/// One job at a time on its own thread, so the interface keeps drawing: the job pushes outputs
/// into a queue the UI drains at its drawing rate, and polls `shouldStop` between steps (a
/// token, a replay side). What generation and the A/B replay share.
public final class BackgroundJob<Output: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var queue: [Output] = []
    private var stopFlag = false
    private var running = false

    public init() {}

    public var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// Starts `body` on a new thread with an 8 MB stack (kernels keep their scratch on the
    /// stack); `body` gets the stop test and the push function.
    func start(_ body: @escaping @Sendable (_ shouldStop: @escaping @Sendable () -> Bool, _ push: @escaping @Sendable (Output) -> Void) -> Void) {
        lock.lock()
        stopFlag = false
        running = true
        lock.unlock()
        let thread = Thread { [self] in
            body({ self.shouldStop }, { self.push($0) })
            lock.lock(); running = false; lock.unlock()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    public func stop() { lock.lock(); stopFlag = true; lock.unlock() }

    var shouldStop: Bool { lock.lock(); defer { lock.unlock() }; return stopFlag }

    /// Stops and waits (bounded) for the thread to finish its current step.
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
