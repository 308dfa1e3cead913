import Foundation

/// Measures sustained read bandwidth the way decoding uses memory: every core summing its own
/// slice of a buffer far larger than the last-level cache. Median of `repeats` passes.
public enum MemoryBandwidth {
    public static func measure(megabytes: Int = 512, repeats: Int = 7) -> Double {
        let count = megabytes * (1 << 20) / 4
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        for i in stride(from: 0, to: count, by: 1) { buffer[i] = Float(i & 1023) }
        var rates: [Double] = []
        var sink: Float = 0
        let lock = NSLock()
        for _ in 0..<repeats {
            let start = Date()
            Parallel.forChunks(count, work: Int.max) { range in
                // Four independent accumulators: one would make the loop wait on its own adds
                // (latency-bound, below what memory delivers, and below what a matvec streams).
                var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
                var i = range.lowerBound
                let raw = UnsafeRawPointer(buffer)
                while i + 64 <= range.upperBound {
                    acc0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                    acc1 += raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                    acc2 += raw.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self)
                    acc3 += raw.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self)
                    i += 64
                }
                while i < range.upperBound { acc0[0] += buffer[i]; i += 1 }
                lock.lock(); sink += (acc0 + acc1 + acc2 + acc3).sum(); lock.unlock()
            }
            rates.append(Double(count * 4) / Date().timeIntervalSince(start))
        }
        if sink.isNaN { print("") }   // keeps the loads alive
        return Statistics.median(rates)
    }
}

public enum Statistics {
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
