import CQuantKernels
import Foundation

/// Measures the read bandwidth the machine can sustain, the memory roofline of decoding: every
/// core reads its own part of a buffer several times larger than the last-level cache with a C
/// read kernel (`memory_read.c`). The roofline is a physical limit, so the figure is the best of
/// `repeats` passes: a pass slowed by another process says nothing about the memory. A decode
/// faster than the roofline means the probe or the byte count is wrong.
///
/// Which kernel: no one read kernel is the fastest everywhere, so the probe runs every vector
/// kernel this CPU has, interleaved, and takes the best pass of any. On an Intel Xeon AVX-512 with
/// software prefetch read highest (BENCHMARKS.md, "An honest roofline"); on an AVX2-only Zen 3
/// four streams read 1.2–1.3× one stream; on a Zen 4 the prefetching AVX-512 kernel read about half
/// of AVX2's (27.5 against 53.0 GB/s, medians) — a probe of one fixed kernel had put that machine's
/// roofline at half its height (BENCHMARKS.md, "A Zen 4 with AVX-512"). The old probe — a Swift
/// SIMD16 sum over a malloc'd buffer — read 5–10% below what llama.cpp's decode was seen to stream.
public enum MemoryBandwidth {
    /// The read kernels the probe can use (`moe_read_variant`).
    public enum ReadKernel: Int32, CaseIterable, Sendable {
        case scalar = 0, avx2, avx512, avx512Prefetch, avx512Streams, avx512StreamsPrefetch
        case avx2Prefetch, avx2Streams, avx2StreamsPrefetch

        public var name: String {
            switch self {
            case .scalar: "scalar"
            case .avx2: "avx2, 1 stream"
            case .avx512: "avx512, 1 stream"
            case .avx512Prefetch: "avx512, 1 stream, prefetch"
            case .avx512Streams: "avx512, 4 streams"
            case .avx512StreamsPrefetch: "avx512, 4 streams, prefetch"
            case .avx2Prefetch: "avx2, 1 stream, prefetch"
            case .avx2Streams: "avx2, 4 streams"
            case .avx2StreamsPrefetch: "avx2, 4 streams, prefetch"
            }
        }

        public var isAvailable: Bool { moe_read_variant_available(rawValue) != 0 }

        /// The probe's kernels: every vector kernel this CPU has (the scalar one where there is none).
        public static var probe: [ReadKernel] {
            let vector = allCases.filter { $0 != .scalar && $0.isAvailable }
            return vector.isEmpty ? [.scalar] : vector
        }

        /// What the reports print as the probe.
        public static var probeName: String { probe == [.scalar] ? "the scalar read kernel" : "the best of \(probe.count) read kernels" }
    }

    /// The probe buffer: 1 GiB, four times the 260 MB L3 of the machine we measure on (a buffer
    /// near the L3's size is partly read from cache, and reads high).
    public static let defaultMegabytes = 1024

    /// Best of `repeats` passes of each probe kernel, bytes per second.
    public static func measure(megabytes: Int = defaultMegabytes, repeats: Int = 3) -> Double {
        ProbeBuffer(megabytes: megabytes).best(passes: repeats)
    }

    /// Each available kernel in turn, `rounds` times (A B C … A B C …, so machine noise falls on all
    /// alike): every pass's rate in bytes per second, per kernel.
    public static func compare(megabytes: Int = defaultMegabytes, rounds: Int) -> [(kernel: ReadKernel, rates: [Double])] {
        let buffer = ProbeBuffer(megabytes: megabytes)
        let kernels = ReadKernel.allCases.filter(\.isAvailable)
        var rates = [[Double]](repeating: [], count: kernels.count)
        for _ in 0..<rounds {
            for (k, kernel) in kernels.enumerated() { rates[k].append(buffer.pass(kernel)) }
        }
        return Array(zip(kernels, rates)).map { (kernel: $0.0, rates: $0.1) }
    }

    /// Anonymous memory advised for huge pages (a page walk per 4 KiB would slow the reads, and
    /// the model's weights are in huge pages when copied in), filled with word i = i, so every
    /// pass's sum is known and checked: a kernel that skipped bytes would fail, not read fast.
    final class ProbeBuffer {
        let base: UnsafeMutableRawPointer
        let bytes: Int
        /// Parts the cores split a pass into: 2 MiB each.
        static let blockBytes = 2 << 20

        init(megabytes: Int) {
            bytes = max(1, megabytes) << 20
            let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            precondition(mapped != MAP_FAILED && mapped != nil, "bandwidth probe: cannot map \(bytes) bytes")
            base = mapped!
            _ = madvise(base, bytes, Int32(MADV_HUGEPAGE))
            let words = base.assumingMemoryBound(to: UInt64.self)
            let count = bytes / 8
            for i in 0..<count { words[i] = UInt64(i) }
        }

        deinit { munmap(base, bytes) }

        /// The best of `passes` rounds of every probe kernel in turn (A B C A B C …), bytes per second.
        func best(passes: Int) -> Double {
            (0..<passes).flatMap { _ in ReadKernel.probe.map(pass) }.max() ?? 0
        }

        /// One pass over the whole buffer on every core; bytes per second.
        func pass(_ kernel: ReadKernel) -> Double {
            let read = self.read(blocks: bytes / Self.blockBytes, from: 0, kernel: kernel)
            return read.bytes / read.seconds
        }

        /// `count` blocks from block `first` on, wrapping past the buffer's end, split over every
        /// core; bytes read, the seconds it took, and the words' sum (checked against the fill).
        func read(blocks count: Int, from first: Int, kernel: ReadKernel) -> (bytes: Double, seconds: Double, sum: UInt64) {
            let blocks = bytes / Self.blockBytes
            // A buffer under one block (a tiny matvec-bench pool) reads nothing, as it always did.
            precondition(count >= 0 && (count == 0 || (0..<blocks).contains(first)), "bandwidth probe: blocks \(first)+\(count) of \(blocks)")
            var region = Region(base: base, kernel: kernel.rawValue, first: first, blocks: blocks)
            let start = DispatchTime.now().uptimeNanoseconds
            withUnsafeMutablePointer(to: &region) { region in
                Parallel.forChunks(count, work: Int.max, context: UnsafeRawPointer(region)) { context, lower, upper in
                    let region = UnsafeMutableRawPointer(mutating: context).assumingMemoryBound(to: Region.self).pointee
                    ProbeBuffer.forEachRun(lower..<upper, first: region.first, blocks: region.blocks) { block, run in
                        region.sum.add(moe_read_sum(region.base + block * ProbeBuffer.blockBytes, run * ProbeBuffer.blockBytes, region.kernel))
                    }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            var expected: UInt64 = 0
            Self.forEachRun(0..<count, first: first, blocks: blocks) { block, run in
                expected &+= Self.wordSum(from: UInt64(block * Self.blockBytes / 8), count: UInt64(run * Self.blockBytes / 8))
            }
            precondition(region.sum.value == expected, "bandwidth probe: \(kernel.name) read a wrong sum")
            return (Double(count * Self.blockBytes), seconds, expected)
        }

        /// Blocks `range` of a read that starts at block `first` of a `blocks`-block buffer, as runs of
        /// contiguous blocks `(block, count)`: at most two, before and after the wrap.
        static func forEachRun(_ range: Range<Int>, first: Int, blocks: Int, _ body: (_ block: Int, _ count: Int) -> Void) {
            var index = range.lowerBound
            while index < range.upperBound {
                let block = (first + index) % blocks
                let run = min(range.upperBound - index, blocks - block)
                body(block, run)
                index += run
            }
        }

        /// Σ i for i in [a, a + n), wrapping like the kernels: n(2a + n − 1)/2 with the halving
        /// done on whichever factor is even, so nothing is lost to the wrap.
        static func wordSum(from a: UInt64, count n: UInt64) -> UInt64 {
            let other = 2 &* a &+ n &- 1   // n and 2a + n − 1 have opposite parities
            return n % 2 == 0 ? (n / 2) &* other : n &* (other / 2)
        }
    }

    private struct Region {
        let base: UnsafeMutableRawPointer
        let kernel: Int32
        let first: Int, blocks: Int
        let sum = WrappingSum()
    }
}

/// The probe's sum of its parts' sums (one add per part, from either core).
final class WrappingSum: @unchecked Sendable {
    private var total: UInt64 = 0
    private let lock = NSLock()
    func add(_ x: UInt64) { lock.lock(); total &+= x; lock.unlock() }
    var value: UInt64 { lock.lock(); defer { lock.unlock() }; return total }
}

public enum Statistics {
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
