import Foundation

/// One thread that runs the prefetcher's reads in order, so that they overlap the compute
/// thread's work. A dedicated thread rather than a dispatch queue: reads block in the kernel and
/// must not take a worker from the pool the matrix kernels use.
final class BackgroundLoader: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var running = 0
    private var stopping = false
    private var exited = false
    private var thread: Thread?

    func enqueue(_ job: @escaping () -> Void) {
        condition.lock()
        jobs.append(job)
        if thread == nil {
            let thread = Thread { [self] in work() }
            thread.name = "moepp expert loader"
            thread.start()
            self.thread = thread
        }
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                exited = true
                thread = nil
                condition.broadcast()
                condition.unlock()
                return
            }
            var job: (() -> Void)? = jobs.removeFirst()
            running += 1
            condition.unlock()
            job!()
            // Released outside the lock: the job may hold the last reference to the cache, whose
            // deinit then calls `stop` on this very thread.
            job = nil
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits until every queued read has finished.
    func drain() {
        condition.lock()
        while !jobs.isEmpty || running > 0 { condition.wait() }
        condition.unlock()
    }

    /// Finishes queued reads, then ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        let onLoaderThread = thread != nil && Thread.current === thread
        if thread != nil && !onLoaderThread { while !exited { condition.wait() } }
        condition.unlock()
    }
}
