import Foundation

/// Matrix–vector throughput per weight format, in bytes of weights read per second: the figure
/// decode speed follows on a bandwidth-bound machine. Each format cycles through a pool of copies
/// of one matrix larger in total than the last-level cache, so every product streams from memory;
/// rounds interleave the formats so that noise from other users of the cores hits all alike.
/// Each round also times the bandwidth probe's read kernels over a buffer of the same size, best of
/// two passes of each (one pass slowed by noise would put a kernel above the memory's limit): the
/// bandwidth that round's products are set against, so a busy machine lowers both. (A
/// Swift SIMD sum of one stream per core read 1.2–1.3× low on an AVX2-only Zen 3, which put
/// kernels "above" the read bandwidth there.)
public enum MatvecBenchmark {
    public struct Result: Sendable {
        public var format: WeightFormat
        public var layout: RowLayout
        /// The format's name, with "-rows8" for a matrix in interleaved groups.
        public var name: String { format.name + (layout == .rows8 ? "-rows8" : "") }
        public var bytesPerProduct: Int
        /// Weight bytes per second of each round.
        public var rates: [Double]
        /// Each round's rate ÷ that round's plain-read bandwidth.
        public var fractions: [Double]
        public var median: Double { Statistics.median(rates) }
    }

    /// One matrix of `format` with weights ~ N(0, 0.02²) (Q6_K: random quants with a small scale,
    /// which is faster to make than its quantiser's search and reads the same), as bytes.
    static func prototype(rows: Int, cols: Int, format: WeightFormat) -> [UInt8] {
        var random = SeededRandom(seed: 7)
        if format == .q6_k {
            var bytes = (0..<rows * format.bytesPerRow(cols)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let d = Float16(0.0005).bitPattern
            for b in stride(from: 0, to: bytes.count, by: BlockQ6_K.bytes) {
                bytes[b + BlockQ6_K.scaleOffset] = UInt8(d & 0xFF)
                bytes[b + BlockQ6_K.scaleOffset + 1] = UInt8(d >> 8)
            }
            return bytes
        }
        return encodeFloats(random.normals(rows * cols, scale: 0.02), as: format)
    }

    /// `variants`: formats, each row-major or (a rows8 format, `rows` a multiple of 8) in rows8 groups;
    /// `path`: the kernel bodies (`.avx2` measures on an AVX-512 machine what CPUs without it run).
    public static func run(rows: Int, cols: Int, variants: [(format: WeightFormat, layout: RowLayout)], poolBytes: Int = 256 << 20,
                           rounds: Int = 7, path: KernelPath = .best) -> [Result] {
        var pools: [(storage: ByteStorage, matrices: [WeightMatrix])] = []
        let arena = HugePageArena()
        for (format, layout) in variants {
            let bytes = prototype(rows: rows, cols: cols, format: format)
            let copies = max(1, (poolBytes + bytes.count - 1) / bytes.count)
            let storage = ByteStorage(count: copies * bytes.count)
            var matrices: [WeightMatrix] = []
            for c in 0..<copies {
                (storage.pointer + c * bytes.count).copyMemory(from: bytes, byteCount: bytes.count)
                let matrix = WeightMatrix(rows: rows, cols: cols, format: format, base: UnsafeRawPointer(storage.pointer + c * bytes.count), owner: storage)
                matrices.append(layout == .rows8 ? matrix.interleavedRows8(in: arena)! : matrix)
            }
            pools.append((storage, matrices))
        }
        var random = SeededRandom(seed: 3)
        let x = random.normals(cols, scale: 1)
        var y = [Float](repeating: 0, count: rows)
        var results = variants.enumerated().map { Result(format: $1.format, layout: $1.layout, bytesPerProduct: pools[$0].matrices[0].byteCount, rates: [], fractions: []) }
        let plain = MemoryBandwidth.ProbeBuffer(megabytes: max(1, poolBytes >> 20))
        // A round's formats run between two probes; each rate is over the larger of the two, so a
        // probe taken in a slow moment of this shared machine does not make a fraction above 1.
        var probes: [Double] = []
        for round in -1..<rounds {   // round −1 warms up (page faults, frequency)
            let stream = plain.best(passes: 2)
            if round >= 0 { probes.append(stream) }
            for (f, pool) in pools.enumerated() {
                let start = Date()
                for matrix in pool.matrices { Kernels.matvec(matrix, x, &y, path: path) }
                let rate = Double(pool.matrices.count * results[f].bytesPerProduct) / Date().timeIntervalSince(start)
                if round >= 0 { results[f].rates.append(rate) }
            }
        }
        probes.append(plain.best(passes: 2))
        for f in results.indices {
            results[f].fractions = results[f].rates.enumerated().map { $1 / max(probes[$0], probes[$0 + 1]) }
        }
        return results
    }
}
