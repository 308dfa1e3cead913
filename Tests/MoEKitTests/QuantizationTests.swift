import Foundation
import Testing
@testable import MoEKit
import CQuantKernels

/// Block formats held to gguf-py (`make quant-fixtures`, gguf==0.19.0) bit for bit, and the
/// integer kernels held to their naive twins.
@Suite("Block formats and quantised kernels")
struct QuantizationTests {
    struct Fixture {
        let rows: Int
        let cols: Int
        let input: [Float]?
        let blocks: [UInt8]
        let dequantized: [Float]
    }

    static func fixture(_ format: WeightFormat) throws -> Fixture {
        let directory = TestSupport.fixture("quant")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))) as! [String: Any]
        let entry = (manifest["types"] as! [String: Any])[format.rawValue] as! [String: Any]
        func bytes(_ suffix: String) -> [UInt8]? {
            (try? Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(format.name).\(suffix)"))).map { [UInt8]($0) }
        }
        func floats(_ suffix: String) -> [Float]? {
            bytes(suffix).map { raw in raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        }
        return Fixture(rows: entry["rows"] as! Int, cols: entry["cols"] as! Int, input: floats("input.f32"),
                       blocks: bytes("blocks")!, dequantized: floats("dequant.f32")!)
    }

    /// A matrix viewing `bytes` (kept alive by the returned storage).
    static func matrix(_ bytes: [UInt8], rows: Int, cols: Int, format: WeightFormat) -> (WeightMatrix, ByteStorage) {
        let storage = ByteStorage(count: bytes.count)
        storage.pointer.copyMemory(from: bytes, byteCount: bytes.count)
        return (WeightMatrix(rows: rows, cols: cols, format: format, base: UnsafeRawPointer(storage.pointer), owner: storage), storage)
    }

    @Test("formats have ggml's block sizes and names")
    func sizes() {
        #expect(WeightFormat.blockFormats.map { [$0.elementsPerBlock, $0.bytesPerBlock] } == [[32, 34], [32, 18], [32, 22], [32, 24], [256, 144], [256, 176], [256, 210]])
        #expect(WeightFormat.blockFormats.map(\.rawValue) == ["Q8_0", "Q4_0", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"])
        #expect(WeightFormat.q4_k.bytesPerRow(512) == 288)
        #expect(!WeightFormat.q8_0.canHoldRow(of: 48))
    }

    @Test("every dequantiser (Swift reference, C AVX2, C scalar) equals gguf.quants.dequantize bit for bit", arguments: WeightFormat.blockFormats)
    func dequantize(format: WeightFormat) throws {
        let f = try Self.fixture(format)
        #expect(f.blocks.count == f.rows * format.bytesPerRow(f.cols))
        let (w, _) = Self.matrix(f.blocks, rows: f.rows, cols: f.cols, format: format)
        var rows = [Float](repeating: .nan, count: f.rows * f.cols)
        for r in 0..<f.rows { rows.withUnsafeMutableBufferPointer { w.copyRow(r, into: $0.baseAddress! + r * f.cols) } }
        #expect(rows.map(\.bitPattern) == f.dequantized.map(\.bitPattern), "copyRow (C, AVX2)")
        // The scalar C bodies, what a machine without AVX2 runs.
        var portable = [Float](repeating: .nan, count: f.rows * f.cols)
        f.blocks.withUnsafeBytes { dequantizeBlocks($0.baseAddress!, format, count: f.rows * f.cols, into: &portable, portable: true) }
        #expect(portable.map(\.bitPattern) == f.dequantized.map(\.bitPattern), "C scalar")
        // The Swift references: element(·,·) (loadElement) one value at a time, and whole blocks.
        let elements = (0..<f.rows).flatMap { r in (0..<f.cols).map { w.element(r, $0) } }
        #expect(elements.map(\.bitPattern) == f.dequantized.map(\.bitPattern), "element")
        let reference: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void = switch format {
        case .q8_0: BlockQ8_0.dequantize
        case .q4_0: BlockQ4_0.dequantize
        case .q5_0: BlockQ5_0.dequantize
        case .q5_1: BlockQ5_1.dequantize
        case .q4_k: BlockQ4_K.dequantize
        case .q5_k: BlockQ5_K.dequantize
        default: BlockQ6_K.dequantize
        }
        var blocks = [Float](repeating: .nan, count: f.rows * f.cols)
        f.blocks.withUnsafeBytes { raw in
            for b in 0..<blocks.count / format.elementsPerBlock {
                blocks.withUnsafeMutableBufferPointer { reference(raw.baseAddress! + b * format.bytesPerBlock, $0.baseAddress! + b * format.elementsPerBlock) }
            }
        }
        #expect(blocks.map(\.bitPattern) == f.dequantized.map(\.bitPattern), "Swift reference")
    }

    @Test("the quantiser equals gguf.quants.quantize bit for bit", arguments: [WeightFormat.q8_0, .q4_0, .q5_0, .q5_1])
    func quantize(format: WeightFormat) throws {
        let f = try Self.fixture(format)
        let ours = quantizeBlocks(try #require(f.input), as: format)
        #expect(ours == f.blocks)
        if ours != f.blocks, let first = zip(ours, f.blocks).enumerated().first(where: { $0.1.0 != $0.1.1 }) {
            Issue.record("first difference at byte \(first.offset) (block \(first.offset / format.bytesPerBlock)): ours \(first.element.0), gguf \(first.element.1)")
        }
    }

    @Test("the K-quant quantisers equal llama.cpp's reference ones byte for byte (awkward blocks)", arguments: [WeightFormat.q4_k, .q5_k, .q6_k])
    func quantizeLikeLlamaCpp(format: WeightFormat) throws {
        let directory = TestSupport.fixture("kquant-llamacpp")
        let input = try Data(contentsOf: URL(fileURLWithPath: directory + "/input.f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/\(format.name.lowercased()).blocks")))
        #expect(input.count == 24 * 256 && expected.count == 24 * format.bytesPerBlock)
        let ours = quantizeBlocks(input, as: format)
        // The first differing byte, not two 5 KB arrays, is what a failure should print.
        let first = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(first == nil && ours.count == expected.count,
                "first difference at byte \(first?.offset ?? -1) (block \((first?.offset ?? 0) / format.bytesPerBlock)): ours \(first?.element.0 ?? 0), llama.cpp \(first?.element.1 ?? 0)")
    }

    @Test("on normal weights the RMS error is ~0.5% at Q8_0 and lower at Q4_K than at Q4_0 (same 4.5 bits per weight)")
    func rmsError() {
        var random = SeededRandom(seed: 1)
        let x = random.normals(256 * 64, scale: 1)
        func rms(_ format: WeightFormat) -> Float {
            var back = [Float](repeating: 0, count: x.count)
            quantizeBlocks(x, as: format).withUnsafeBytes { convertToFloat($0.baseAddress!, format, count: x.count, into: &back) }
            return (zip(x, back).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(x.count)).squareRoot()
        }
        // Measured: Q8_0 0.0054, Q4_0 0.086, Q4_K 0.078.
        #expect(rms(.q8_0) < 0.006)
        #expect(rms(.q4_k) < rms(.q4_0) && rms(.q4_0) < 0.09)
    }

    @Test("Q4_K's own quantiser round-trips within a fraction of each sub-block's range")
    func q4kRoundTrip() {
        var random = SeededRandom(seed: 5)
        var x = random.normals(1024, scale: 0.05)
        for i in 256..<512 { x[i] = abs(x[i]) + 1 }          // positive only: the min is clamped to 0
        for i in 512..<768 { x[i] = 0 }                       // a zero block
        let bytes = quantizeBlocks(x, as: .q4_k)
        let (w, _) = Self.matrix(bytes, rows: 1, cols: 1024, format: .q4_k)
        for j in 0..<32 {
            let sub = x[32 * j..<32 * (j + 1)]
            let range = max(sub.max()!, 0) - min(sub.min()!, 0)
            let error = sub.indices.map { abs(w.element(0, $0) - x[$0]) }.max()!
            // Half a step of range/15, plus the 6-bit coding of the step and the offset.
            #expect(error <= range / 15 * 0.5 + range * 0.05 + 1e-7, "sub-block \(j): error \(error), range \(range)")
        }
    }

    @Test("the C activation quantiser (AVX2 and scalar) equals its Swift twin bit for bit", arguments: [32, 256])
    func activations(blockSize: Int) {
        var random = SeededRandom(seed: 8)
        var x = random.normals(4 * blockSize, scale: 2)
        for i in 0..<blockSize { x[i] = 0 }                                        // zero block
        for i in blockSize..<2 * blockSize { x[i] = Float(i % 7) - 3.5 }           // exact halves
        x[2 * blockSize] = 127; x[2 * blockSize + 1] = 0.5; x[2 * blockSize + 2] = -1.5
        let naive = NaiveKernels.quantizeActivations(x, blockSize: blockSize)
        for portable in [false, true] {
            let fast = QuantizedKernels.quantizeActivations(x, blockSize: blockSize, portable: portable)
            #expect(fast.scales.map(\.bitPattern) == naive.scales.map(\.bitPattern), "portable: \(portable)")
            #expect(fast.quants == naive.quants, "portable: \(portable)")
        }
    }

    /// Random weights of `format` (quantised from normals; Q6_K from random bytes with sane scales,
    /// which reach every level pattern).
    static func randomMatrix(rows: Int, cols: Int, format: WeightFormat, seed: UInt64) -> (WeightMatrix, ByteStorage) {
        var random = SeededRandom(seed: seed)
        let bytes: [UInt8]
        if format != .q6_k {
            bytes = quantizeBlocks(random.normals(rows * cols, scale: 1), as: format)
        } else {
            var raw = (0..<format.bytesPerRow(cols) * rows).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            for b in 0..<raw.count / format.bytesPerBlock {
                let d = Float16(Float(random.next() % 1000 + 1) * 1e-4).bitPattern
                raw[b * format.bytesPerBlock + 208] = UInt8(d & 0xFF)
                raw[b * format.bytesPerBlock + 209] = UInt8(d >> 8)
            }
            bytes = raw
        }
        return matrix(bytes, rows: rows, cols: cols, format: format)
    }

    @Test("matvec (VNNI where present, AVX2, scalar C) equals its naive twin on awkward sizes", arguments: WeightFormat.blockFormats)
    func matvec(format: WeightFormat) {
        #if arch(x86_64)
        #expect(QuantizedKernels.usesSIMD, "Package.swift compiles CQuantKernels for AVX2 on x86-64")
        print("quantised kernels: VNNI \(QuantizedKernels.hasVNNI ? "present, tested as the best path" : "absent")")
        #endif
        let block = format.elementsPerBlock
        // 5 × 13 and 6 × 23 blocks: the Q8_0 VNNI body's eight-block steps, pairs and last odd block
        // over an odd and an even row count; 513 blocks: past its stack copy of x (the 256-bit body).
        for (rows, cols) in [(1, block), (3, block), (17, 4 * block), (255, block), (255, 16 * block), (64, 1024 / block * block * 4),
                             (5, 13 * block), (6, 23 * block), (3, block == 32 ? 513 * block : 2 * block)] {
            let (w, _) = Self.randomMatrix(rows: rows, cols: cols, format: format, seed: UInt64(rows * 31 + cols))
            var random = SeededRandom(seed: UInt64(cols))
            var x = random.normals(cols, scale: 1)
            x[0] = 0; x[cols - 1] = -7   // a spread of magnitudes inside one activation block
            var y = [Float](repeating: .nan, count: rows)
            Kernels.matvec(w, x, &y)
            #expect(TestSupport.close(y, NaiveKernels.quantizedMatvec(w, x), relative: 1e-5), "\(format.name) \(rows)×\(cols)")
            // Against the exact product (x unquantised): each activation moves by at most half its
            // block's step d, so |y − exact| ≤ Σ_c |w_c|·d_c/2.
            let exact = NaiveKernels.matvec(w, x)
            let steps = NaiveKernels.quantizeActivations(x, blockSize: QuantizedKernels.activationBlock(format)).scales
            for r in 0..<rows {
                let bound = (0..<cols).reduce(Float(0)) { $0 + abs(w.element(r, $1)) * steps[$1 / QuantizedKernels.activationBlock(format)] / 2 }
                #expect(abs(y[r] - exact[r]) <= bound * 1.001 + 1e-4 * abs(exact[r]), "\(format.name) \(rows)×\(cols) row \(r) vs exact")
            }
            // One row through Kernels.dot is the same product.
            let first = x.withUnsafeBufferPointer { Kernels.dot(w.rowPointer(0), format, $0.baseAddress!, cols) }
            #expect(first == y[0])
            // Every body sums the same integers: AVX2, the scalar one (a machine without AVX2) and,
            // through .best above, VNNI where this CPU has it.
            for path in [QuantizedKernels.Path.avx2, .scalar] {
                var other = [Float](repeating: .nan, count: rows)
                QuantizedKernels.matvec(w, x, &other, path: path)
                #expect(TestSupport.close(other, NaiveKernels.quantizedMatvec(w, x), relative: 1e-5), "\(format.name) \(rows)×\(cols) \(path)")
            }
        }
    }

    /// AMD decodes Q8_0 with the far-row VNNI body (QuantizedKernels.q8FarRows) and prompts with
    /// the batched VNNI kernel; decoding equals a full recompute only if it has the wide VNNI body's
    /// bits. Rows not a multiple of four (the far rows' tail), odd block counts, and past 512 blocks
    /// (where the wide body hands over to its 256-bit one).
    @Test("the far-row Q8_0 VNNI matvec gives the VNNI body's bits", .enabled(if: QuantizedKernels.hasVNNI))
    func farRowsGiveVNNIBits() {
        for (rows, cols) in [(5, 13 * 32), (6, 23 * 32), (64, 4096), (9, 15 * 32), (3, 513 * 32), (11, 32)] {
            let (w, storage) = Self.randomMatrix(rows: rows, cols: cols, format: .q8_0, seed: UInt64(rows * 7 + cols))
            var random = SeededRandom(seed: UInt64(cols + 1))
            var x = random.normals(cols, scale: 1)
            x[cols - 1] = -9
            var xq = [moe_block_q8](repeating: moe_block_q8(), count: cols / 32)
            moe_quantize_q8(x, Int32(cols), &xq)
            var far = [Float](repeating: .nan, count: rows), wide = far
            moe_matvec_q8_0_vnni_far(w.base, w.rowBytes, xq, Int32(cols), &far, 0, Int32(rows))
            moe_matvec_q8_0_vnni(w.base, w.rowBytes, xq, Int32(cols), &wide, 0, Int32(rows))
            #expect(far.map(\.bitPattern) == wide.map(\.bitPattern), "\(rows)×\(cols)")
            // A sub-range, as a core gets it.
            var part = [Float](repeating: .nan, count: rows)
            moe_matvec_q8_0_vnni_far(w.base, w.rowBytes, xq, Int32(cols), &part, 1, Int32(rows))
            #expect(part[1...].map(\.bitPattern) == wide[1...].map(\.bitPattern), "\(rows)×\(cols) rows 1…")
            withExtendedLifetime(storage) {}
        }
    }

    @Test("matmul (batched prompt path) equals the naive quantised product per token", arguments: WeightFormat.blockFormats)
    func matmul(format: WeightFormat) {
        let block = format.elementsPerBlock
        for (tokens, rows, cols) in [(2, 5, block), (9, 70, 2 * block), (33, 300, 4 * block)] {
            let (w, _) = Self.randomMatrix(rows: rows, cols: cols, format: format, seed: 3)
            var random = SeededRandom(seed: 4)
            let x = (0..<tokens).map { _ in random.normals(cols, scale: 1) }
            var y = [Float](repeating: .nan, count: tokens * rows)
            Kernels.matmul(w, x.flatMap { $0 }, tokens: tokens, &y)
            // Activations are quantised per token, as decoding does (QuantizedMatmul.swift).
            #expect(TestSupport.close(y, x.flatMap { NaiveKernels.quantizedMatvec(w, $0) }, relative: 1e-5), "\(format.name) \(tokens)×\(rows)×\(cols)")
        }
    }

    @Test("a matrix quantised in place of its f32 original stays close and reports its bytes")
    func quantizedMatrix() {
        var random = SeededRandom(seed: 12)
        let values = random.normals(40 * 512, scale: 0.1)
        let original = WeightMatrix.owning(rows: 40, cols: 512, values: values)
        for (format, tolerance) in [(WeightFormat.q8_0, Float(0.01)), (.q4_0, 0.15), (.q4_k, 0.15)] {
            let q = original.quantized(to: format)
            #expect(q.byteCount == 40 * format.bytesPerRow(512))
            let error = (0..<40).flatMap { r in (0..<512).map { abs(q.element(r, $0) - original.element(r, $0)) } }.max()!
            #expect(error <= tolerance * values.map(abs).max()!, "\(format.name): \(error)")
        }
    }

    @Test("safetensors and .bin writers refuse block formats with an error, not a trap")
    func writersRefuseBlocks() throws {
        let directory = TestSupport.temporaryDirectory()
        #expect(throws: CheckpointError.self) {
            _ = try SafeTensorsStreamWriter(path: directory + "/x.safetensors", plan: [PlannedTensor(name: "w", format: .q8_0, shape: [1, 32])])
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.safetensors.partial"))
        let torch = try TorchCheckpointWriter(path: directory + "/x.bin")
        #expect(throws: CheckpointError.self) { try torch.append(name: "w", format: .q4_0, shape: [1, 32], bytes: [UInt8](repeating: 0, count: 18)) }
    }
}

@Suite("A model quantised in memory at load")
struct InMemoryQuantizationTests {
    @Test("Q8_0 and Q4_K serve a random Mixtral with logits near the f32 original's", arguments: [(WeightFormat.q8_0, Float(0.03)), (.q4_k, 0.4)])
    func logits(format: WeightFormat, tolerance: Float) throws {
        let directory = TestSupport.randomCheckpoint(.mixtral) { config in
            config = RandomCheckpoint.tinyConfig(.mixtral, hidden: 256, layers: 2, ffnExperts: 4, intermediate: 512, heads: 4)
        }
        let original = try Transformer(directory: directory)
        let quantized = try InMemoryQuantization.load(directory: directory, format: format)
        #expect(quantized.embeddingFormat == format)
        #expect(quantized.quantizableMatrixBytes * 3 < original.quantizableMatrixBytes, "f32 → \(format.name) is > 3× smaller")
        let prompt = [1, 5, 9, 2, 7, 3, 3, 8]
        let reference = try original.forward(prompt, cache: original.makeCache(), allLogits: true).logits
        let served = try quantized.forward(prompt, cache: quantized.makeCache(), allLogits: true).logits
        let scale = reference.map(abs).max()!
        let error = TestSupport.maxAbsoluteDifference(served, reference)
        // Measured: Q8_0 2.2%, Q4_K 32% (Q4_0 34%): 4-bit weights of a random 2-layer model move
        // logits a lot, and a flipped top-2 expert choice moves them more.
        #expect(error <= tolerance * scale, "\(format.name): max |Δlogit| \(error) of max |logit| \(scale)")
    }
}
