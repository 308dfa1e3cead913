import Foundation

/// Splits `0..<count` into contiguous chunks and runs `body(range)` on each, on the persistent
/// `WorkerPool` and the calling thread; returns when every chunk is done. Small jobs run inline:
/// handing work to a second thread costs more than a small matrix-vector product. A body may
/// call `forChunks` again (that region runs inline), and so may several threads at once.
public enum Parallel {
    /// The cores this process may run on: the affinity mask (so `taskset -c 0` means one
    /// thread), at most the active processor count.
    public static let coreCount = allowedCores()

    static let pool = WorkerPool(workers: coreCount - 1)

    /// The pool's region statistics (off until resumed).
    public static var regionStatistics: RegionStatistics { pool.statistics }

    /// Whether a region of `count` chunks and `work` multiply-adds runs on the calling thread alone.
    static func runsInline(_ count: Int, work: Int) -> Bool { work < 1 << 16 || count < 2 }

    public static func forChunks(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        if runsInline(count, work: work) { body(0..<count); return }
        pool.run(count, body)
    }

    /// `forChunks` with the body as a C function of a context (what the caller's closure would
    /// capture, in a struct it points to): a region handed out so allocates nothing, where a
    /// closure costs one allocation per region (see WorkerPool).
    static func forChunks(_ count: Int, work: Int, context: UnsafeRawPointer, _ function: WorkerPool.Function) {
        if runsInline(count, work: work) { function(context, 0, count); return }
        pool.run(count, context: context, function)
    }

    static func allowedCores() -> Int {
        let active = max(1, ProcessInfo.processInfo.activeProcessorCount)
        #if os(Linux)
        // sched_getaffinity is not imported into Swift (it needs _GNU_SOURCE); the kernel prints
        // the same mask as hex words ("Cpus_allowed:\tff,ffffffff").
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) {
            let allowed = line.dropFirst("Cpus_allowed:".count).reduce(0) { sum, digit in
                sum + (digit.hexDigitValue ?? 0).nonzeroBitCount
            }
            if allowed > 0 { return min(allowed, active) }
        }
        #endif
        return active
    }
}
