import CQuantKernels
import Foundation
import Testing
@testable import MoEKit

/// `ComputePrecision.bf16Activations`: the rounding of activations to bf16, bit for bit on every
/// body; the vdpbf16ps products against a naive dot product of the rounded vectors; and a whole
/// model's logits in that mode against the exact run (through the CLI, since the setting is
/// process-wide and these suites run in parallel).
@Suite("bf16 activations (vdpbf16ps) against their twins")
struct BF16DotKernelTests {
    static func rounded(_ x: [Float], vector: Bool) -> [UInt16] {
        var out = [UInt16](repeating: 0xABAB, count: x.count + 1)  // the sentinel must survive
        (vector ? moe_round_to_bf16_avx512bf16 : moe_round_to_bf16_scalar)(x, Int32(x.count), &out)
        #expect(out.last == 0xABAB, "rounding \(x.count) values wrote past the end")
        return Array(out.dropLast())
    }

    /// Σ_i w[i]·round(x)[i] in Double, the weights and rounded activations widened exactly.
    static func naiveDot(_ w: WeightMatrix, row: Int, _ xb: [UInt16]) -> Float {
        Float((0..<w.cols).reduce(0.0) { sum, i in
            sum + Double(w.element(row, i)) * Double(bfloat16ToFloat(xb[i]))
        })
    }

    /// |y − naive| ≤ 1e-5 · Σ|w||x| + tiny per row: f32 sums of exact products, in another order.
    static func expectClose(_ y: Float, _ reference: Float, _ w: WeightMatrix, row: Int, _ xb: [UInt16], _ label: String) {
        let magnitude = (0..<w.cols).reduce(Float(0)) { $0 + abs(w.element(row, $1) * bfloat16ToFloat(xb[$1])) }
        #expect(abs(y - reference) <= 1e-5 * magnitude + 1e-30, "\(label): \(y) vs \(reference)")
    }

    @Test("rounding to bf16: ties to even, denormals to signed zero, ∞ kept, NaN quieted")
    func roundingCases() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1
            (0x3F80_8000, 0x3F80),  // 1 + 2⁻⁸: a tie, the kept bit is even → down
            (0x3F81_8000, 0x3F82),  // 1 + 3·2⁻⁸: a tie, the kept bit is odd → up
            (0x3F80_8001, 0x3F81),  // just above the tie → up
            (0x3F80_7FFF, 0x3F80),  // just below → down
            (0x8000_0000, 0x8000), (0x0000_0001, 0x0000), (0x8040_0000, 0x8000),  // −0, denormals
            (0x7F80_0000, 0x7F80), (0xFF80_0000, 0xFF80),  // ±∞
            (0x7F7F_FFFF, 0x7F80),  // the largest float rounds to ∞
            (0x7F80_0001, 0x7FC0), (0xFFA0_0000, 0xFFE0),  // NaNs stay NaNs, quieted
            (0x0080_0000, 0x0080),  // the smallest normal
        ]
        let x = cases.map { Float(bitPattern: $0.0) }
        let expected = cases.map(\.1)
        #expect(Self.rounded(x, vector: false) == expected)
        if Kernels.hasAVX512BF16 { #expect(Self.rounded(x, vector: true) == expected) }
    }

    // Skipped (not failed) on a CPU without AVX-512 BF16, where only the scalar body exists.
    @Test("the vector rounding equals the scalar twin bit for bit (random bit patterns, every tail length)",
          .enabled(if: Kernels.hasAVX512BF16, "this CPU has no AVX-512 BF16: only the scalar rounding runs"))
    func roundingBodies() throws {
        var random = SeededRandom(seed: 12)
        let patterns = (0..<20_000).map { i -> Float in
            var bits = UInt32(truncatingIfNeeded: random.next())
            if i % 5 == 0 { bits &= 0x807F_FFFF }                          // zero exponent: denormals
            if i % 7 == 0 { bits |= 0x7F80_0000 }                          // ∞ and NaNs
            if i % 3 == 0 { bits = (bits & 0xFFFF_0000) | 0x8000 }         // exact ties
            return Float(bitPattern: bits)
        }
        #expect(Self.rounded(patterns, vector: true) == Self.rounded(patterns, vector: false))
        for n in 1...70 {
            let slice = Array(patterns[0..<n])
            #expect(Self.rounded(slice, vector: true) == Self.rounded(slice, vector: false), "n = \(n)")
        }
    }

    @Test("matrix–vector rows equal the naive dot of the rounded vectors, on every body and awkward sizes")
    func matvec() {
        for (rows, cols) in [(1, 1), (3, 31), (7, 33), (64, 64), (300, 257), (513, 129), (5, 2049), (40, 4096)] {
            let w = FusedKernelTests.matrix(rows: rows, cols: cols, format: .bf16, seed: UInt64(rows * 7 + cols))
            var random = SeededRandom(seed: UInt64(cols))
            let x = random.normals(cols, scale: 1)
            let xb = Self.rounded(x, vector: false)
            for path in KernelPath.allCases {
                var y = [Float](repeating: .nan, count: rows)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        withUnsafePointer(to: MatvecProduct(w, xp.baseAddress!, yp.baseAddress!)) {
                            Kernels.matvecs(UnsafeBufferPointer(start: $0, count: 1), path: path, precision: .bf16Activations)
                        }
                    }
                }
                for r in 0..<rows { Self.expectClose(y[r], Self.naiveDot(w, row: r, xb), w, row: r, xb, "\(rows)×\(cols) \(path) row \(r)") }
            }
        }
    }

    @Test("batches (every register block: 1–6 tokens, rows not a multiple of 4) equal the naive dots")
    func matmul() {
        for (tokens, rows, cols) in [(2, 5, 3), (3, 17, 64), (6, 8, 32), (7, 70, 100), (13, 33, 65), (33, 130, 257)] {
            let w = FusedKernelTests.matrix(rows: rows, cols: cols, format: .bf16, seed: 3)
            var random = SeededRandom(seed: 4)
            let x = random.normals(tokens * cols, scale: 1)
            for path in [KernelPath.best, .scalar] {
                var y = [Float](repeating: .nan, count: tokens * rows)
                Kernels.bf16DotMatmul(w, x, tokens: tokens, &y, path: path)
                for t in 0..<tokens {
                    let xb = Self.rounded(Array(x[t * cols ..< (t + 1) * cols]), vector: false)
                    for r in 0..<rows {
                        Self.expectClose(y[t * rows + r], Self.naiveDot(w, row: r, xb), w, row: r, xb, "\(tokens)×\(rows)×\(cols) \(path) [\(t)][\(r)]")
                    }
                }
            }
        }
    }

    @Test("the mode is refused on a CPU without AVX-512 BF16; exact is always allowed")
    func refusal() {
        #expect(ComputePrecision.bf16Activations.unsupportedReason(cpuHasAVX512BF16: false)?.contains("AVX-512 BF16") == true)
        #expect(ComputePrecision.bf16Activations.unsupportedReason(cpuHasAVX512BF16: true) == nil)
        #expect(ComputePrecision.exact.unsupportedReason(cpuHasAVX512BF16: false) == nil)
    }

    struct LogitsOutput: Decodable { let logits: [[Float]] }

    /// A random bf16 Mixtral-style checkpoint: every product (attention, experts, head) is bf16,
    /// prompt positions take the batched kernel and the last the decode one.
    @Test("a bf16 model's logits in this mode stay within 2% of the exact run's range; the exact run is unchanged")
    func modelLogits() throws {
        let directory = TestSupport.randomCheckpoint(.mixtral, seed: 21, dtype: .bf16)
        let tokens = [3, 17, 42, 5, 9, 11, 2, 30]
        let arguments = ["logits", "--model", directory, "--tokens", tokens.map(String.init).joined(separator: ","), "--all"]
        let exact = try TestSupport.run(arguments)
        #expect(exact.status == 0, "\(exact.stderr)")
        let exactLogits = try JSONDecoder().decode(LogitsOutput.self, from: Data(exact.stdout.utf8)).logits.flatMap { $0 }
        // The default mode is what the engine computes in process (where nothing sets the mode).
        let model = try Transformer(directory: directory)
        let inProcess = try model.forward(tokens, cache: model.makeCache(), controls: RoutingControls(), allLogits: true).logits
        #expect(exactLogits.map(\.bitPattern) == inProcess.map(\.bitPattern))

        let bf16 = try TestSupport.run(arguments + ["--bf16-activations"])
        guard Kernels.hasAVX512BF16 else {
            #expect(bf16.status != 0 && bf16.stderr.contains("AVX-512 BF16"), "\(bf16.stderr)")
            return
        }
        #expect(bf16.status == 0, "\(bf16.stderr)")
        let bf16Logits = try JSONDecoder().decode(LogitsOutput.self, from: Data(bf16.stdout.utf8)).logits.flatMap { $0 }
        let range = exactLogits.max()! - exactLogits.min()!
        let difference = TestSupport.maxAbsoluteDifference(bf16Logits, exactLogits)
        print("bf16 activations on a random bf16 Mixtral: max |Δlogit| \(difference), logit range \(range)")
        #expect(difference > 0, "the mode changed nothing: is it wired to the products?")
        #expect(difference <= 0.02 * range)
    }
}
