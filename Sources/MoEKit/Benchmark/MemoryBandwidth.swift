import Foundation

/// Measures sustained read bandwidth the way decoding uses memory: every core summing its own
/// slice of a buffer far larger than the last-level cache. The roofline is a physical limit, so
/// the best of `repeats` passes is the figure (a pass slowed by another process says nothing about
/// the memory); a decode faster than that roofline means the probe or the byte count is wrong.
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
                // Four independent sums, so the adds' latency never limits the loads.
                var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
                var i = range.lowerBound
                let raw = UnsafeRawPointer(buffer)
                while i + 64 <= range.upperBound {
                    a += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                    b += raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                    c += raw.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self)
                    d += raw.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self)
                    i += 64
                }
                while i < range.upperBound { a[0] += buffer[i]; i += 1 }
                lock.lock(); sink += (a + b + c + d).sum(); lock.unlock()
            }
            rates.append(Double(count * 4) / Date().timeIntervalSince(start))
        }
        if sink.isNaN { print("") }   // keeps the loads alive
        return rates.max() ?? 0
    }
}

public enum Statistics {
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
