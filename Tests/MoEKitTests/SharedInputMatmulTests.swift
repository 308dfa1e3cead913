import Testing
@testable import MoEKit

/// `Kernels.matmuls` (several matrices of one batch as one region, the input quantised once)
/// against each matrix's own batch product bit for bit, and against the naive product; and a
/// batch's router logits against the router's per-token logits.
@Suite("Products sharing one input, and a batch's router logits, against their twins")
struct SharedInputMatmulTests {
    /// Three matrices of one width: the rows of a region's chunks cross from one to the next
    /// at any point (130 + 37 + 5 rows).
    static func matrices(format: WeightFormat, cols: Int, seed: UInt64) -> [(WeightMatrix, Any?)] {
        [130, 37, 5].enumerated().map { i, rows in
            if format.elementsPerBlock == 1 {
                return (FusedKernelTests.matrix(rows: rows, cols: cols, format: format, seed: seed + UInt64(i)), nil)
            }
            let (w, storage) = QuantizationTests.randomMatrix(rows: rows, cols: cols, format: format, seed: seed + UInt64(i))
            return (w, storage)
        }
    }

    /// One matrix's batch product on `path` (the blocked kernels for element formats).
    static func alone(_ w: WeightMatrix, _ x: [Float], tokens: Int, path: KernelPath) -> [Float] {
        var y = [Float](repeating: .nan, count: tokens * w.rows)
        if w.format.elementsPerBlock == 1 {
            Kernels.elementMatmul(w, x, tokens: tokens, &y, method: .blocked, path: path)
        } else {
            QuantizedMatmul.matmul(w, x, tokens: tokens, &y, path: path)
        }
        return y
    }

    @Test("every format and body: each matrix's rows equal its own batch product bit for bit, and the naive product within 1e-5",
          arguments: WeightFormat.allCases)
    func sharedInput(format: WeightFormat) {
        let cols = format.elementsPerBlock == 1 ? 100 : 3 * format.elementsPerBlock
        let held = Self.matrices(format: format, cols: cols, seed: 40)
        let weights = held.map(\.0)
        for tokens in [2, 3, 9, 33] {
            var random = SeededRandom(seed: UInt64(tokens))
            let rowsOfX = (0..<tokens).map { _ in random.normals(cols, scale: 1) }
            let x = rowsOfX.flatMap { $0 }
            for path in KernelPath.allCases {
                let pointers = weights.map { w -> UnsafeMutablePointer<Float> in
                    let y = UnsafeMutablePointer<Float>.allocate(capacity: tokens * w.rows)
                    y.initialize(repeating: .nan, count: tokens * w.rows)
                    return y
                }
                defer { pointers.forEach { $0.deallocate() } }
                x.withUnsafeBufferPointer { input in
                    Kernels.matmuls(input.baseAddress!, tokens: tokens, zip(weights, pointers).map { MatmulTarget($0, $1) }, path: path)
                }
                for (w, pointer) in zip(weights, pointers) {
                    let y = Array(UnsafeBufferPointer(start: pointer, count: tokens * w.rows))
                    let twin = Self.alone(w, x, tokens: tokens, path: path)
                    #expect(y.map(\.bitPattern) == twin.map(\.bitPattern), "\(format.name) \(tokens)×\(w.rows)×\(cols) \(path)")
                    let naive = format.elementsPerBlock == 1 ? NaiveKernels.matmul(w, rowsOfX).flatMap { $0 }
                                                             : rowsOfX.flatMap { NaiveKernels.quantizedMatvec(w, $0) }
                    #expect(TestSupport.close(y, naive, relative: 1e-5), "\(format.name) \(tokens)×\(w.rows)×\(cols) \(path) vs naive")
                }
            }
        }
        withExtendedLifetime(held) {}
    }

    @Test("matrices of different formats fall back to one product each, with the same result")
    func mixedFormats() {
        let cols = 64
        let f32 = FusedKernelTests.matrix(rows: 9, cols: cols, format: .f32, seed: 1)
        let (q8, storage) = QuantizationTests.randomMatrix(rows: 11, cols: cols, format: .q8_0, seed: 2)
        var random = SeededRandom(seed: 3)
        let tokens = 5
        let x = random.normals(tokens * cols, scale: 1)
        var a = [Float](repeating: .nan, count: tokens * 9), b = [Float](repeating: .nan, count: tokens * 11)
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                Kernels.matmuls(x, tokens: tokens, [MatmulTarget(f32, pa.baseAddress!), MatmulTarget(q8, pb.baseAddress!)])
            }
        }
        var a2 = [Float](repeating: .nan, count: tokens * 9), b2 = [Float](repeating: .nan, count: tokens * 11)
        Kernels.matmul(f32, x, tokens: tokens, &a2)
        Kernels.matmul(q8, x, tokens: tokens, &b2)
        #expect(a.map(\.bitPattern) == a2.map(\.bitPattern))
        #expect(b.map(\.bitPattern) == b2.map(\.bitPattern))
        withExtendedLifetime(storage) {}
    }

    @Test("a block-format router's batch logits equal its per-token logits bit for bit; element formats decline",
          arguments: WeightFormat.allCases)
    func routerBatch(format: WeightFormat) {
        let cols = format.elementsPerBlock == 1 ? 96 : 2 * format.elementsPerBlock
        let held = Self.matrices(format: format, cols: cols, seed: 7)
        let router = Router(projection: .linear(held[2].0), residual: nil)
        var random = SeededRandom(seed: 5)
        let tokens = 17
        let x = random.normals(tokens * cols, scale: 1)
        var batch: [Float] = []
        let batched = x.withUnsafeBufferPointer { router.batchLogits($0.baseAddress!, tokens: tokens, into: &batch) }
        #expect(batched == (format.elementsPerBlock > 1), "\(format.name)")
        guard batched else { return }
        let perToken = (0..<tokens).flatMap { t in x.withUnsafeBufferPointer { router.logits($0.baseAddress! + t * cols) } }
        #expect(batch.map(\.bitPattern) == perToken.map(\.bitPattern), "\(format.name)")
        withExtendedLifetime(held) {}
    }
}
