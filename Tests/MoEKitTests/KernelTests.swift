import Testing
@testable import MoEKit

@Suite("Kernels against their naive twins")
struct KernelTests {
    func randomMatrix(rows: Int, cols: Int, dtype: WeightFormat, seed: UInt64) -> (WeightMatrix, FloatStorage) {
        var random = SeededRandom(seed: seed)
        let values = random.normals(rows * cols, scale: 1)
        let bytes = encodeFloats(values, as: dtype)
        let storage = FloatStorage(zeros: (bytes.count + 3) / 4)
        UnsafeMutableRawPointer(storage.pointer).copyMemory(from: bytes, byteCount: bytes.count)
        return (WeightMatrix(rows: rows, cols: cols, format: dtype, base: UnsafeRawPointer(storage.pointer), owner: storage), storage)
    }

    @Test("matvec equals the naive product for every dtype and awkward sizes", arguments: WeightFormat.elementFormats)
    func matvec(dtype: WeightFormat) {
        for (rows, cols) in [(1, 1), (7, 33), (64, 64), (300, 257), (513, 129)] {
            let (w, _) = randomMatrix(rows: rows, cols: cols, dtype: dtype, seed: UInt64(rows * cols))
            var random = SeededRandom(seed: 9)
            let x = random.normals(cols, scale: 1)
            var y = [Float](repeating: .nan, count: rows)
            Kernels.matvec(w, x, &y)
            let reference = NaiveKernels.matvec(w, x)
            #expect(TestSupport.close(y, reference, relative: 1e-5), "\(dtype) \(rows)×\(cols)")
        }
    }

    @Test("matmul (batched prompt path) equals naive for every dtype", arguments: WeightFormat.elementFormats)
    func matmul(dtype: WeightFormat) {
        for (tokens, rows, cols) in [(2, 5, 3), (3, 17, 64), (8, 70, 100), (9, 70, 48), (33, 600, 130)] {
            let (w, _) = randomMatrix(rows: rows, cols: cols, dtype: dtype, seed: 3)
            var random = SeededRandom(seed: 4)
            let x = (0..<tokens).map { _ in random.normals(cols, scale: 1) }
            var y = [Float](repeating: .nan, count: tokens * rows)
            Kernels.matmul(w, x.flatMap { $0 }, tokens: tokens, &y)
            #expect(TestSupport.close(y, NaiveKernels.matmul(w, x).flatMap { $0 }, relative: 1e-5), "\(dtype) \(tokens)×\(rows)×\(cols)")
        }
    }

    @Test("rmsNorm, softmax, SwiGLU gate and RoPE equal their naive twins")
    func vectorKernels() {
        var random = SeededRandom(seed: 11)
        for count in [1, 15, 16, 17, 100] {
            let x = random.normals(count, scale: 3)
            let weight = random.normals(count, scale: 1)
            var out = [Float](repeating: 0, count: count)
            Kernels.rmsNorm(x, weight, 1e-5, &out, count)
            #expect(TestSupport.close(out, NaiveKernels.rmsNorm(x, weight, 1e-5), relative: 1e-5))
            var probabilities = x
            Kernels.softmax(&probabilities, count)
            #expect(TestSupport.close(probabilities, NaiveKernels.softmax(x), relative: 1e-6))
            let up = random.normals(count, scale: 1)
            var gated = [Float](repeating: 0, count: count)
            Kernels.siluMultiply(x, up, &gated, count)
            #expect(TestSupport.close(gated, NaiveKernels.siluMultiply(x, up), relative: 1e-5))
        }
        let rotary = RotaryEmbedding(headDim: 16, theta: 10_000)
        let heads = random.normals(32, scale: 1)
        for position in [0, 1, 7, 300] {
            var rotated = heads
            rotary.apply(&rotated, heads: 2, position: position)
            let reference = NaiveKernels.rope(Array(heads[0..<16]), position: position, theta: 10_000)
                + NaiveKernels.rope(Array(heads[16..<32]), position: position, theta: 10_000)
            #expect(TestSupport.close(rotated, reference, relative: 1e-4), "position \(position)")
        }
    }

    @Test("softmax gives masked (−∞) entries zero probability")
    func softmaxMasked() {
        var z: [Float] = [1, -.infinity, 2, -.infinity]
        Kernels.softmax(&z, 4)
        #expect(z[1] == 0 && z[3] == 0)
        #expect(abs(z[0] + z[2] - 1) < 1e-6)
    }

    @Test("f16 and bf16 encode/decode round-trips representable values exactly")
    func conversions() {
        let values: [Float] = [0, 1, -2, 0.5, 256, -0.25, 3.140625]
        for dtype in WeightFormat.elementFormats {
            let bytes = encodeFloats(values, as: dtype)
            var back = [Float](repeating: 0, count: values.count)
            bytes.withUnsafeBytes { convertToFloat($0.baseAddress!, dtype, count: values.count, into: &back) }
            #expect(back == values, "\(dtype)")
        }
        #expect(floatToBFloat16(1.00390625) == 0x3F80, "ties round to even")
        #expect(bfloat16ToFloat(floatToBFloat16(.nan)).isNaN)
    }
}
