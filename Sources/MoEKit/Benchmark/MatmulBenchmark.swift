import Foundation

/// Batch-product throughput (Y = X·Wᵀ, the prompt path) of each method for the element formats,
/// in GFLOP/s (2·rows·cols·tokens per product). Each method cycles through a pool of copies of
/// one matrix larger than the last-level cache, so the weights stream from memory as a prompt's
/// experts do; rounds interleave the methods (A B A B …) so that noise from other users of the
/// cores hits all alike. Figures are medians with min–max.
public enum MatmulBenchmark {
    public struct Result: Sendable {
        public var tokens: Int
        public var method: Kernels.ElementMatmulMethod
        /// FLOP per second of each round.
        public var rates: [Double]
    }

    public static func run(format: WeightFormat, rows: Int, cols: Int, tokens: [Int], methods: [Kernels.ElementMatmulMethod],
                           poolBytes: Int = 128 << 20, rounds: Int = 5) -> [Result] {
        var random = SeededRandom(seed: 7)
        let bytes = encodeFloats(random.normals(rows * cols, scale: 0.02), as: format)
        let copies = max(1, (poolBytes + bytes.count - 1) / bytes.count)
        let storage = ByteStorage(count: copies * bytes.count)
        let matrices = (0..<copies).map { c in
            (storage.pointer + c * bytes.count).copyMemory(from: bytes, byteCount: bytes.count)
            return WeightMatrix(rows: rows, cols: cols, format: format, base: UnsafeRawPointer(storage.pointer + c * bytes.count), owner: storage)
        }
        let most = tokens.max() ?? 1
        let x = random.normals(most * cols, scale: 1)
        var y = [Float](repeating: 0, count: most * rows)
        var results: [Result] = tokens.flatMap { t in methods.map { Result(tokens: t, method: $0, rates: []) } }
        for round in -1..<rounds {   // round −1 warms up (page faults, frequency, OpenBLAS's threads)
            for index in results.indices {
                let (t, method) = (results[index].tokens, results[index].method)
                let start = Date()
                for w in matrices { Kernels.elementMatmul(w, x, tokens: t, &y, method: method) }
                let seconds = Date().timeIntervalSince(start)
                if round >= 0 { results[index].rates.append(Double(2 * rows * cols * t * matrices.count) / seconds) }
            }
        }
        return results
    }
}
