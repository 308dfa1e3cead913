import Synchronization

/// How well the worker pool's regions keep both cores busy: per region, how long one participant
/// sat idle while another finished its last chunk (`moepp bench --region-statistics`).
///
/// Why: a memory-bound decode streams at the rate of every core reading at once; while one core
/// waits at the end of a region the other streams alone, at well under that rate. Throughput on
/// these shared hosts moves by ±30% from run to run, so a change to how regions are cut cannot be
/// judged by tok/s; the idle share is measured inside the process and does not depend on the
/// host's bandwidth at that moment.
///
/// Off by default: measuring costs a clock read per chunk. Regions run inline (one participant)
/// are not counted.
public final class RegionStatistics: Sendable {
    public struct Snapshot: Sendable {
        public var regions = 0
        /// Wall time inside regions.
        public var seconds = 0.0
        /// Σ over regions of the gap between the participants' last chunks (the whole region
        /// when the workers took no chunk).
        public var idleSeconds = 0.0
        public var idleShare: Double { seconds > 0 ? idleSeconds / seconds : 0 }
    }

    private let on = Atomic<Bool>(false)
    private let regions = Atomic<Int>(0)
    private let nanoseconds = Atomic<UInt64>(0), idleNanoseconds = Atomic<UInt64>(0)

    init() {}

    var isOn: Bool { on.load(ordering: .relaxed) }

    /// Counts the regions that start from now on (until `pause`).
    public func resume() { on.store(true, ordering: .relaxed) }
    public func pause() { on.store(false, ordering: .relaxed) }

    public func reset() {
        regions.store(0, ordering: .relaxed)
        nanoseconds.store(0, ordering: .relaxed)
        idleNanoseconds.store(0, ordering: .relaxed)
    }

    public var snapshot: Snapshot {
        Snapshot(regions: regions.load(ordering: .relaxed), seconds: Double(nanoseconds.load(ordering: .relaxed)) / 1e9,
                 idleSeconds: Double(idleNanoseconds.load(ordering: .relaxed)) / 1e9)
    }

    /// One region from `start` to `end`; `ownerDone` / `workersDone` are when the caller's and
    /// the workers' last chunks returned (`start` if they ran none).
    func add(start: UInt64, end: UInt64, ownerDone: UInt64, workersDone: UInt64) {
        let idle = workersDone <= start ? end - start : (ownerDone > workersDone ? ownerDone - workersDone : workersDone - ownerDone)
        regions.add(1, ordering: .relaxed)
        nanoseconds.add(end - start, ordering: .relaxed)
        idleNanoseconds.add(idle, ordering: .relaxed)
    }
}
