import Foundation
import Testing
@testable import MoEKit

/// The batched integer kernels (QuantizedMatmul.swift, quant_matmul.h) against their twins: each
/// body bit for bit against the matrix–vector kernel of the same body run token by token, and
/// the naive quantised product within float tolerance; then a quantised model's prompt against
/// its own incremental decoding.
@Suite("Batched quantised products (prompt path)")
struct QuantizedMatmulTests {
    /// Each token through `Kernels.matvec` on `path`: what the batched kernel must equal exactly.
    static func tokenByToken(_ w: WeightMatrix, _ x: [[Float]], path: KernelPath) -> [Float] {
        x.flatMap { token in
            var y = [Float](repeating: .nan, count: w.rows)
            Kernels.matvec(w, token, &y, path: path)
            return y
        }
    }

    static func batched(_ w: WeightMatrix, _ x: [[Float]], path: KernelPath) -> [Float] {
        var y = [Float](repeating: .nan, count: x.count * w.rows)
        QuantizedMatmul.matmul(w, x.flatMap { $0 }, tokens: x.count, &y, path: path)
        return y
    }

    @Test("every body (VNNI where present, AVX2, scalar) equals its matvec twin bit for bit, and the naive product within 1e-5",
          arguments: WeightFormat.blockFormats)
    func bodies(format: WeightFormat) {
        let block = format.elementsPerBlock
        // Odd and even block counts (the 32-wide kernels alternate two accumulators), rows not a
        // multiple of anything, and rows × row bytes past the 256 KiB row tile (4352-byte Q8_0
        // rows × 70; 2304-byte Q4_K rows × 130).
        let shapes = [(1, block), (7, 3 * block), (13, 2 * block), (70, (4096 / block) * block), (5, 5 * block), (130, (4096 / block) * block),
                      (9, 15 * block), (4, 17 * block)]   // the Q8_0 VNNI matvec's eight-block steps with every kind of tail
        for (rows, cols) in shapes {
            let (w, _) = QuantizationTests.randomMatrix(rows: rows, cols: cols, format: format, seed: UInt64(rows * 13 + cols))
            var random = SeededRandom(seed: UInt64(rows + cols))
            // Groups of four (Q8_0/Q4_0, the AVX2 and scalar bodies) and eight (the K formats' VNNI
            // bodies): every remainder 1…7 appears (17 = 8 + 8 + 1 = 4·4 + 1, 11 = 8 + 3, 14 = 8 + 6).
            for tokens in rows >= 130 ? [1, 7, 12] : [1, 2, 3, 5, 7, 11, 14, 17] {
                let x = (0..<tokens).map { t -> [Float] in
                    var v = random.normals(cols, scale: 1)
                    v[t % cols] = 0; v[cols - 1] = Float(t) - 8   // a spread of magnitudes inside a block
                    return v
                }
                for path in KernelPath.allCases {
                    let ours = Self.batched(w, x, path: path)
                    let twin = Self.tokenByToken(w, x, path: path)
                    #expect(ours.map(\.bitPattern) == twin.map(\.bitPattern), "\(format.name) \(tokens)×\(rows)×\(cols) \(path)")
                }
                if rows * cols <= 16 * 1024 {
                    let naive = x.flatMap { NaiveKernels.quantizedMatvec(w, $0) }
                    for path in KernelPath.allCases {
                        #expect(TestSupport.close(Self.batched(w, x, path: path), naive, relative: 1e-5), "\(format.name) \(tokens)×\(rows)×\(cols) \(path) vs naive")
                    }
                }
            }
        }
    }

    @Test("rows computed in separate ranges (as the cores split them) land in the right columns of Y", arguments: WeightFormat.blockFormats)
    func rowRanges(format: WeightFormat) {
        let (rows, cols, tokens) = (11, 2 * format.elementsPerBlock, 6)
        let (w, _) = QuantizationTests.randomMatrix(rows: rows, cols: cols, format: format, seed: 9)
        var random = SeededRandom(seed: 10)
        let x = (0..<tokens).map { _ in random.normals(cols, scale: 1) }
        let whole = Self.batched(w, x, path: .best)
        let y = Self.rows(w, x, ranges: [0..<3, 3..<4, 4..<rows])
        #expect(y.map(\.bitPattern) == whole.map(\.bitPattern))
    }

    /// The tokens quantised once, then `QuantizedMatmul.rows` once per range, on the calling thread
    /// (no worker pool) — so one range of all rows reaches a kernel's loop over several 256 KiB row
    /// tiles, which `matmul` (a few rows per core) does not.
    static func rows(_ w: WeightMatrix, _ x: [[Float]], ranges: [Range<Int>]) -> [Float] {
        let stride = QuantizedMatmul.activationBytes(w)
        let quantized = UnsafeMutableRawPointer.allocate(byteCount: x.count * stride, alignment: 64)
        defer { quantized.deallocate() }
        for (t, token) in x.enumerated() {
            token.withUnsafeBufferPointer { QuantizedMatmul.quantize(w.format, $0.baseAddress!, w.cols, into: quantized + t * stride, path: .best) }
        }
        var y = [Float](repeating: .nan, count: x.count * w.rows)
        y.withUnsafeMutableBufferPointer { out in
            for range in ranges { QuantizedMatmul.rows(w, quantized, tokens: x.count, out.baseAddress!, range, path: .best) }
        }
        return y
    }

    @Test("one call over several row tiles, and rows past the wide matvec's 512 blocks, equal the matvec bit for bit",
          arguments: WeightFormat.blockFormats)
    func wholeTilesInOneCall(format: WeightFormat) {
        // 130 rows of 4096 columns: two to four tiles in every format; 16 640 columns: 520
        // 32-blocks, where the Q8_0/Q4_0 matvecs take their 256-bit bodies (65 K-blocks).
        for (rows, cols) in [(130, 4096), (3, 16_640)] {
            let (w, _) = QuantizationTests.randomMatrix(rows: rows, cols: cols, format: format, seed: UInt64(rows + cols))
            var random = SeededRandom(seed: UInt64(cols))
            for tokens in [1, 5] {
                let x = (0..<tokens).map { _ in random.normals(cols, scale: 1) }
                #expect(Self.rows(w, x, ranges: [0..<rows]).map(\.bitPattern) == Self.tokenByToken(w, x, path: .best).map(\.bitPattern),
                        "\(format.name) \(tokens)×\(rows)×\(cols)")
            }
        }
    }

    @Test("a quantised Mixtral's prompt logits equal its incremental decoding's bit for bit", arguments: [WeightFormat.q8_0, .q4_0, .q4_k])
    func promptEqualsDecode(format: WeightFormat) throws {
        let directory = TestSupport.randomCheckpoint(.mixtral, seed: 4) { config in
            config = RandomCheckpoint.tinyConfig(.mixtral, hidden: 256, layers: 2, ffnExperts: 4, intermediate: 512, heads: 4)
        }
        try Self.expectPromptEqualsDecode(try InMemoryQuantization.load(directory: directory, format: format), [12, 200, 45, 3, 99, 150, 7, 7, 260, 31, 18], format.name)
    }

    @Test("the trained moepp-tiny (MoE++) written by moepp quantize at Q8_0: prompt logits equal decoding's bit for bit")
    func shippedPromptEqualsDecode() throws {
        let path = TestSupport.temporaryDirectory() + "/q8.gguf"
        try GGUFQuantizeTests.export(GGUFQuantizeTests.shipped("moepp-tiny"), .q8_0, to: path)
        let model = try ModelSource(path: path).transformer()
        try Self.expectPromptEqualsDecode(model, try ModelSource(path: path).tokenizer().encode("Once upon a time, there was a little"), "moepp-tiny Q8_0")
    }

    static func expectPromptEqualsDecode(_ model: Transformer, _ tokens: [Int], _ name: String) throws {
        let full = try model.forward(tokens, cache: model.makeCache(), allLogits: true)
        let cache = model.makeCache()
        let vocabulary = model.config.vocabSize
        _ = try model.forward([tokens[0]], cache: cache)
        for t in 1..<tokens.count {
            let step = try model.forward([tokens[t]], cache: cache)
            let reference = Array(full.logits[t * vocabulary..<(t + 1) * vocabulary])
            // Bit for bit: the block-format products are (the batched kernels equal the matvec ones),
            // and so is the rest of this model (the f32 router runs per token, attention per token
            // and head in the same order either way).
            #expect(step.logits.map(\.bitPattern) == reference.map(\.bitPattern),
                    "\(name) position \(t): max diff \(TestSupport.maxAbsoluteDifference(step.logits, reference))")
            #expect(step.routing[0].map { $0.chosen.map(\.index) } == full.routing[t].map { $0.chosen.map(\.index) })
        }
    }
}
