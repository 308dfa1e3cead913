import Testing
@testable import MoEKit

/// The blocked batch kernels (element_gemm.h) on every body — AVX-512 where the CPU has it,
/// AVX2, scalar — against the naive product, on token counts around the register block (4×4
/// AVX-512, 4×3 AVX2) and rows/columns that are not multiples of the vector width.
@Suite("Blocked batch kernels for f32/f16/bf16 against the naive product")
struct ElementMatmulTests {
    @Test("every body equals NaiveKernels.matmul on awkward sizes", arguments: WeightFormat.elementFormats)
    func bodies(format: WeightFormat) {
        for (rows, cols) in [(1, 1), (5, 15), (7, 33), (37, 100), (130, 257), (64, 2048)] {
            let w = FusedKernelTests.matrix(rows: rows, cols: cols, format: format, seed: UInt64(rows * 31 + cols))
            for tokens in [1, 2, 3, 4, 9, 17, 33, 130] {
                var random = SeededRandom(seed: UInt64(tokens * 1000 + cols))
                let x = (0..<tokens).map { _ in random.normals(cols, scale: 1) }
                let reference = NaiveKernels.matmul(w, x).flatMap { $0 }
                let flat = x.flatMap { $0 }
                for path in KernelPath.allCases {
                    var y = [Float](repeating: .nan, count: tokens * rows)
                    Kernels.elementMatmul(w, flat, tokens: tokens, &y, method: .blocked, path: path)
                    #expect(TestSupport.close(y, reference, relative: 1e-5), "\(format.name) \(tokens)×\(rows)×\(cols) \(path)")
                }
                var y = [Float](repeating: .nan, count: tokens * rows)
                Kernels.elementMatmul(w, flat, tokens: tokens, &y, method: .blas)
                #expect(TestSupport.close(y, reference, relative: 1e-5), "\(format.name) \(tokens)×\(rows)×\(cols) BLAS")
            }
        }
    }

    @Test("a body called on row slices fills exactly those rows (the pool splits rows at any boundary)")
    func rowSlices() {
        let (rows, cols, tokens) = (23, 40, 6)
        let w = FusedKernelTests.matrix(rows: rows, cols: cols, format: .bf16, seed: 2)
        var random = SeededRandom(seed: 8)
        let x = random.normals(tokens * cols, scale: 1)
        var whole = [Float](repeating: .nan, count: tokens * rows)
        Kernels.elementRows(w, x, tokens: tokens, &whole, 0..<rows, path: .best)
        var pieces = [Float](repeating: .nan, count: tokens * rows)
        for range in [0..<3, 3..<4, 4..<13, 13..<23] { Kernels.elementRows(w, x, tokens: tokens, &pieces, range, path: .best) }
        #expect(pieces.map(\.bitPattern) == whole.map(\.bitPattern))
    }
}

