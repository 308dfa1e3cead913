import Foundation
import Synchronization

/// A persistent pool of `coreCount − 1` worker threads behind `Parallel.forChunks`.
///
/// Why not `DispatchQueue.concurrentPerform` per region: waking a parked GCD worker costs
/// ~50–60 µs on the 2-core VMs we measure on — half of one matrix–vector product — so the
/// caller did most rows alone. Here the workers spin on the region cursor for a bounded time
/// after each region (decode issues regions back to back, tens of µs apart) and only then park
/// on a condition variable, so an idle process burns no CPU.
///
/// A region is `chunks` contiguous slices of `0..<count` handed out one at a time by a
/// compare-and-swap on `cursor`; the caller takes chunks too, so a worker that is late (parked,
/// or descheduled by another process) just finds less work left instead of holding the region up.
/// The region returns when every chunk has finished.
///
/// One region at a time: the first caller to take `owner` runs the region; any other caller —
/// a body calling `forChunks` (nested), or a second thread (the TUI's generation thread while
/// the prefetch thread works) — runs its loop inline. Nothing ever waits for the owner, so
/// nothing can deadlock.
///
/// A region's body is a C function pointer and a context pointer, which cost nothing to hand to
/// the workers. A Swift closure (`run(_:_:)`) is lent to them through `withoutActuallyEscaping`,
/// which allocates its wrapper once per region; hot regions (`Kernels.matvecs`, one per matrix
/// product of a decode step) pass a function and context instead and allocate nothing.
final class WorkerPool: @unchecked Sendable {
    typealias Body = (Range<Int>) -> Void
    /// body(context, lower, upper): runs the items lower..<upper.
    typealias Function = @convention(c) (UnsafeRawPointer, Int, Int) -> Void

    /// Worker threads (the caller is one more participant).
    let workerCount: Int
    /// Slices per participant: enough that an unlucky thread does not hold the region up,
    /// few enough that handing them out (one contended cache line each) stays negligible.
    /// Equal slices. Slices that shrink towards the region's end (count·(1 − (1 − i/chunks)²))
    /// cut the time one thread waits at the ends of the 7B Q8_0 decode's regions from 10–17% to
    /// 3–13% (`moepp bench --region-statistics`), but over 17 interleaved pairs no gain showed in
    /// tok/s or the paired roofline (with 8 slices per participant it looked slightly worse: more
    /// slice starts, each a cold stream), so they were not kept (BENCHMARKS.md "Regions that end
    /// together"); 32 or 256 equal slices per participant measured slower than 4.
    static let chunksPerParticipant = 4
    /// How long a worker keeps looking for the next region before it parks. Past the first
    /// `busySpinNanoseconds` it yields between looks: on a machine busier than its cores (other
    /// processes, or the worker sharing the caller's core) a pure spin took CPU time from the
    /// caller and decode got slower than parking at once; a yielding one gave the best of both.
    static let spinNanoseconds: UInt64 = 50_000
    static let busySpinNanoseconds: UInt64 = 3_000

    // The cursor packs the region's generation (high 48 bits) with the next chunk to hand out
    // (low 16 bits). Generations only grow and a chunk index only grows within its generation,
    // so a successful compare-and-swap proves the region it read is still the current one.
    private static let indexBits: UInt64 = 16
    private static let indexMask: UInt64 = (1 << indexBits) - 1
    /// Index a finished region is closed with: above any chunk count (≤ `maxChunks`).
    private static let closed: UInt64 = indexMask
    private static let maxChunks = 4096

    private let cursor = Atomic<UInt64>(0)
    /// When each participant's last chunk of the current region returned (`statistics` only).
    private let ownerDone = Atomic<UInt64>(0), workersDone = Atomic<UInt64>(0)
    // The region's description, written by the owner before it publishes the cursor and only
    // after it has closed the previous region (see `claimChunks`).
    private let regionCount = Atomic<Int>(0)
    private let regionChunks = Atomic<Int>(0)
    private let regionFunction = Atomic<UInt>(0)
    private let regionContext = Atomic<UInt>(0)
    /// Where `run(_:_:)` keeps the closure it lends (one region at a time: the owner's).
    private let lentBody = UnsafeMutablePointer<Body>.allocate(capacity: 1)
    /// Chunks of the current region whose body has returned.
    private let finished = Atomic<Int>(0)
    private let owner = Atomic<Bool>(false)
    let statistics = RegionStatistics()
    /// Workers parked (or about to park) on `wake`.
    private let sleepers = Atomic<Int>(0)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    /// The owner's generation counter (only the owner touches it).
    private var generation: UInt64 = 0

    init(workers: Int) {
        workerCount = max(0, workers)
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 0..<workerCount { startWorker() }
    }

    /// Runs `body` over chunks of `0..<count` on the pool and the calling thread; returns when all
    /// are done. Inline if the pool has no workers or another region is running.
    func run(_ count: Int, _ body: Body) {
        guard count > 0 else { return }
        guard ownRegion(count) else { body(0..<count); return }
        defer { owner.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            lentBody.initialize(to: body)
            defer { lentBody.deinitialize(count: 1) }
            runOwned(count, context: UnsafeRawPointer(lentBody)) { context, lower, upper in
                context.assumingMemoryBound(to: Body.self).pointee(lower..<upper)
            }
        }
    }

    /// `run` with the body as `function(context, lower, upper)`.
    func run(_ count: Int, context: UnsafeRawPointer, _ function: Function) {
        guard count > 0 else { return }
        guard ownRegion(count) else { function(context, 0, count); return }
        defer { owner.store(false, ordering: .releasing) }
        runOwned(count, context: context, function)
    }

    /// Takes the pool for a region, unless it has no workers, the region is one item, or
    /// another region is running (the caller then runs it inline).
    private func ownRegion(_ count: Int) -> Bool {
        workerCount > 0 && count > 1 && owner.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    private func runOwned(_ count: Int, context: UnsafeRawPointer, _ function: Function) {
        let chunks = min(count, (workerCount + 1) * Self.chunksPerParticipant, Self.maxChunks)
        generation += 1
        regionCount.store(count, ordering: .sequentiallyConsistent)
        regionChunks.store(chunks, ordering: .sequentiallyConsistent)
        regionFunction.store(unsafeBitCast(function, to: UInt.self), ordering: .sequentiallyConsistent)
        regionContext.store(UInt(bitPattern: context), ordering: .sequentiallyConsistent)
        finished.store(0, ordering: .sequentiallyConsistent)
        let measured = statistics.isOn
        let start = measured ? DispatchTime.now().uptimeNanoseconds : 0
        if measured {
            ownerDone.store(start, ordering: .relaxed)
            workersDone.store(start, ordering: .relaxed)
        }
        cursor.store(generation << Self.indexBits, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }
        claimChunks(generation, done: ownerDone, measured: measured)
        // Only bodies already claimed remain, each running on a worker right now; yield
        // if one takes long (its thread may have been descheduled on a shared core).
        var polls = 0
        while finished.load(ordering: .acquiring) < chunks {
            polls += 1
            if polls > 1_000 { sched_yield() }
        }
        // Close before the next region's description is written, so a worker still
        // holding this cursor value can no longer claim from it.
        cursor.store(generation << Self.indexBits | Self.closed, ordering: .sequentiallyConsistent)
        if measured {
            statistics.add(start: start, end: DispatchTime.now().uptimeNanoseconds,
                           ownerDone: ownerDone.load(ordering: .relaxed), workersDone: workersDone.load(ordering: .relaxed))
        }
    }

    /// Claims and runs chunks of region `generation` until none are left (or it was closed).
    /// A worker may read the description of a newer region here (it is rewritten once this one is
    /// closed), but then its compare-and-swap fails: the cursor no longer holds what it read.
    private func claimChunks(_ generation: UInt64, done: borrowing Atomic<UInt64>, measured: Bool) {
        let count = regionCount.load(ordering: .sequentiallyConsistent)
        let chunks = regionChunks.load(ordering: .sequentiallyConsistent)
        let function = unsafeBitCast(regionFunction.load(ordering: .sequentiallyConsistent), to: Function.self)
        let context = UnsafeRawPointer(bitPattern: regionContext.load(ordering: .sequentiallyConsistent))
        var current = cursor.load(ordering: .sequentiallyConsistent)
        while current >> Self.indexBits == generation {
            let index = Int(current & Self.indexMask)
            if index >= chunks { return }
            let (claimed, seen) = cursor.compareExchange(expected: current, desired: current + 1, ordering: .sequentiallyConsistent)
            if !claimed { current = seen; continue }
            function(context!, count * index / chunks, count * (index + 1) / chunks)
            if measured { done.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
            finished.add(1, ordering: .releasing)
            current = cursor.load(ordering: .sequentiallyConsistent)
        }
    }

    /// A worker: join each new region, spin briefly for the next, park when none comes.
    private func workerLoop() -> Never {
        var seen: UInt64 = 0
        while true {
            var current = cursor.load(ordering: .sequentiallyConsistent)
            if current >> Self.indexBits == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                var polls = 0
                while current >> Self.indexBits == seen {
                    polls += 1
                    if polls & 63 == 0 {
                        let elapsed = DispatchTime.now().uptimeNanoseconds - start
                        if elapsed > Self.spinNanoseconds { park(seen) } else if elapsed > Self.busySpinNanoseconds { sched_yield() }
                    }
                    current = cursor.load(ordering: .sequentiallyConsistent)
                }
            }
            seen = current >> Self.indexBits
            claimChunks(seen, done: workersDone, measured: statistics.isOn)
        }
    }

    /// Sleeps until a region newer than `seen` is published. The owner publishes the cursor and
    /// then reads `sleepers`; we count ourselves in and then re-read the cursor under the mutex
    /// (all sequentially consistent), so one of the two sees the other and no wake-up is lost.
    private func park(_ seen: UInt64) {
        sleepers.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        while cursor.load(ordering: .sequentiallyConsistent) >> Self.indexBits == seen {
            pthread_cond_wait(wake, mutex)
        }
        pthread_mutex_unlock(mutex)
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
    }

    /// A detached thread: it ends with the process (exit does not wait for it).
    private func startWorker() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, &attributes, { context in
            Unmanaged<WorkerPool>.fromOpaque(context!).takeUnretainedValue().workerLoop()
        }, context)
        precondition(result == 0, "pthread_create failed (\(result))")
    }
}
