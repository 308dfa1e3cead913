import Foundation
import Synchronization
import Testing
@testable import MoEKit

/// The pool behind `Parallel.forChunks`: every kernel's rows go through it, so a chunk lost or
/// run twice would be a wrong logit, and a lost wake-up a hung decode.
@Suite("Worker pool")
struct WorkerPoolTests {
    /// More workers than this machine has cores, so chunks really are contended and workers are
    /// descheduled mid-region; created once (its threads live as long as the process).
    static let crowded = WorkerPool(workers: 3)
    static let pools = [("shared", Parallel.pool), ("3 workers", crowded)]

    /// How many times each index of 0..<count was visited by one region.
    func visits(_ pool: WorkerPool, _ count: Int) -> [Int] {
        let counts = UnsafeMutableBufferPointer<Atomic<Int>>.allocate(capacity: count)
        defer { counts.deallocate() }
        for i in 0..<count { (counts.baseAddress! + i).initialize(to: Atomic(0)) }
        pool.run(count) { range in
            for i in range { counts[i].add(1, ordering: .relaxed) }
        }
        return (0..<count).map { counts[$0].load(ordering: .relaxed) }
    }

    @Test("a region's chunks cover 0..<count exactly once, for many sizes and many regions in a row")
    func coverage() {
        for (name, pool) in Self.pools {
            for count in Array(0...70) + [127, 128, 129, 1000, 4095, 4096, 4097, 100_003] {
                for _ in 0..<(count < 100 ? 20 : 3) {
                    let seen = visits(pool, count)
                    #expect(seen.allSatisfy { $0 == 1 }, "\(name): count \(count)")
                }
            }
        }
    }

    @Test("a pooled product equals the serial loop exactly")
    func equalsSerial() {
        var random = SeededRandom(seed: 12)
        let (rows, cols) = (257, 300)
        let w = random.normals(rows * cols, scale: 1)
        let x = random.normals(cols, scale: 1)
        let serial = (0..<rows).map { r in (0..<cols).reduce(Float(0)) { $0 + w[r * cols + $1] * x[$1] } }
        for (name, pool) in Self.pools {
            for _ in 0..<50 {
                var y = [Float](repeating: .nan, count: rows)
                y.withUnsafeMutableBufferPointer { y in
                    let y = y.baseAddress!
                    pool.run(rows) { range in
                        for r in range { y[r] = (0..<cols).reduce(Float(0)) { $0 + w[r * cols + $1] * x[$1] } }
                    }
                }
                #expect(y == serial, "\(name)")
            }
        }
    }

    @Test("a body that opens a region of its own completes (the inner one runs inline)")
    func nested() {
        for (name, pool) in Self.pools {
            let total = Atomic<Int>(0)
            pool.run(40) { outer in
                for _ in outer {
                    pool.run(25) { inner in total.add(inner.count, ordering: .relaxed) }
                }
            }
            #expect(total.load(ordering: .relaxed) == 40 * 25, "\(name)")
        }
        // And through the public entry point, above the inline threshold at both levels.
        let total = Atomic<Int>(0)
        Parallel.forChunks(8, work: Int.max) { outer in
            for _ in outer {
                Parallel.forChunks(1000, work: Int.max) { inner in total.add(inner.count, ordering: .relaxed) }
            }
        }
        #expect(total.load(ordering: .relaxed) == 8 * 1000)
    }

    @Test("several threads opening regions at once all complete, each exactly once over its range")
    func concurrentCallers() {
        for (name, pool) in Self.pools {
            let failures = Atomic<Int>(0)
            let threads = 4
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                for round in 0..<200 {
                    let count = 1 + (thread * 37 + round * 11) % 300
                    let seen = visits(pool, count)
                    if !seen.allSatisfy({ $0 == 1 }) { failures.add(1, ordering: .relaxed) }
                }
            }
            #expect(failures.load(ordering: .relaxed) == 0, "\(name)")
        }
    }

    @Test("regions spaced past the spin time wake parked workers (no lost wake-up)")
    func afterParking() {
        for (name, pool) in Self.pools {
            for _ in 0..<5 {
                usleep(UInt32(WorkerPool.spinNanoseconds / 1000) * 3)
                let seen = visits(pool, 500)
                #expect(seen.allSatisfy { $0 == 1 }, "\(name)")
            }
        }
    }

    /// Its own pool, so that no other test's regions are counted.
    static let measured = WorkerPool(workers: 1)

    @Test("region statistics count the regions run while resumed, and an idle share within the regions' time")
    func regionStatistics() {
        let pool = Self.measured, statistics = pool.statistics
        statistics.reset()
        statistics.resume()
        for _ in 0..<10 { #expect(visits(pool, 64).allSatisfy { $0 == 1 }) }
        statistics.pause()
        for _ in 0..<5 { _ = visits(pool, 64) }
        let snapshot = statistics.snapshot
        #expect(snapshot.regions == 10)
        #expect(snapshot.seconds > 0)
        #expect(snapshot.idleSeconds >= 0 && snapshot.idleSeconds <= snapshot.seconds)
        statistics.reset()
        #expect(statistics.snapshot.regions == 0 && statistics.snapshot.seconds == 0)
    }

    @Test("a region's idle time: the gap between the participants' last chunks, or all of it when the workers ran none")
    func regionIdle() {
        let statistics = RegionStatistics()
        statistics.add(start: 1_000, end: 2_000, ownerDone: 1_900, workersDone: 1_600)   // workers first: 300 idle
        statistics.add(start: 3_000, end: 4_000, ownerDone: 3_500, workersDone: 3_950)   // owner first: 450
        statistics.add(start: 5_000, end: 6_000, ownerDone: 5_990, workersDone: 5_000)   // workers ran nothing: 1000
        let snapshot = statistics.snapshot
        #expect(snapshot.regions == 3)
        #expect(abs(snapshot.seconds - 3e-6) < 1e-12)
        #expect(abs(snapshot.idleSeconds - 1.75e-6) < 1e-12)
        #expect(abs(snapshot.idleShare - 1.75 / 3) < 1e-9)
    }

    @Test("the core count honours the affinity mask")
    func coreCount() {
        #expect(Parallel.coreCount >= 1)
        #expect(Parallel.coreCount <= ProcessInfo.processInfo.activeProcessorCount)
        #expect(Parallel.pool.workerCount == Parallel.coreCount - 1)
    }
}
