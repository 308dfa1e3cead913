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
                var acc = SIMD16<Float>()
                var i = range.lowerBound
                let raw = UnsafeRawPointer(buffer)
                while i + 16 <= range.upperBound {
                    acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                    i += 16
                }
                lock.lock(); sink += acc.sum(); lock.unlock()
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
