import CQuantKernels
import Foundation
import Testing
@testable import MoEKit

/// The SwiGLU gate's C bodies (swiglu_kernels.c: AVX-512, AVX2+FMA, scalar expf) against the
/// naive Double twin. Tolerance, for every body: |out − ref| ≤ 4e-7·|ref| + 3e-37·|up| — about
/// 3.4 float ulps (polynomial exp ≤ ~1 ulp, then the add, divide and multiply each round once),
/// plus the flush to ±0 of g ≤ −88.72 where e^(−g) overflows (the true value is below
/// 88.8·e^(−88.72)·|up| < 3e-37·|up| there; denormal outputs also fall under this term). A product
/// beyond the float range must come out as ∞ of its sign.
@Suite("SwiGLU gate kernels against their naive twin")
struct SwiGLUKernelTests {
    static let paths: [KernelPath] = [.best, .avx2, .scalar]

    static func run(_ gate: [Float], _ up: [Float], path: KernelPath) -> [Float] {
        var out = [Float](repeating: .nan, count: gate.count + 1)
        out[gate.count] = 12345  // a sentinel past the end: the tails must not write there
        Kernels.siluMultiply(gate, up, &out, gate.count, path: path)
        #expect(out[gate.count] == 12345, "\(path) wrote past \(gate.count) elements")
        return Array(out.dropLast())
    }

    static func expectClose(_ out: [Float], _ gate: [Float], _ up: [Float], _ label: String) {
        for i in gate.indices {
            let g = Double(gate[i]), u = Double(up[i])
            let reference = g / (1 + exp(-g)) * u
            if abs(reference) > Double(Float.greatestFiniteMagnitude) {  // the product itself overflows a float
                #expect(out[i] == (reference > 0 ? .infinity : -.infinity), "\(label) [\(i)]: silu(\(gate[i]))·\(up[i]) = \(out[i]), expected ±∞")
                continue
            }
            let error = abs(Double(out[i]) - reference)
            #expect(!out[i].isNaN && error <= 4e-7 * abs(reference) + 3e-37 * abs(u),
                    "\(label) [\(i)]: silu(\(gate[i]))·\(up[i]) = \(out[i]), expected \(reference)")
        }
    }

    static let extremes: [Float] = [
        88, -88, 100, -100, 1e30, -1e30, 0, -0.0, 1e-40, -1e-40, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
        .leastNormalMagnitude, 88.72, -88.72, 88.73, -88.73, 89, -89, 87.3, -87.3, 104, -104, 20, -20, 1e-3, -1e-3,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.5, -0.5, 15.9, -15.9,
    ]

    @Test("awkward lengths: every body within tolerance of the Double twin, nothing written past the end")
    func awkwardLengths() {
        var random = SeededRandom(seed: 12)
        for count in [1, 7, 15, 16, 17, 33, 1000] {
            var gate = random.normals(count, scale: 4)
            for i in stride(from: 0, to: count, by: 5) { gate[i] = Self.extremes[(i / 5) % Self.extremes.count] }
            let up = random.normals(count, scale: 2)
            for path in Self.paths { Self.expectClose(Self.run(gate, up, path: path), gate, up, "\(path) n=\(count)") }
        }
    }

    @Test("extreme gates (±88, ±100, ±1e30, ±0, denormals, ±max): finite, the right limits")
    func extremeValues() {
        let gate = Self.extremes
        let up = gate.indices.map { Float([1, -2.5, 0.75, 3][$0 % 4]) }
        for path in Self.paths {
            let out = Self.run(gate, up, path: path)
            Self.expectClose(out, gate, up, "\(path)")
            for i in gate.indices where gate[i] <= -89 { #expect(out[i] == 0, "\(path): silu(\(gate[i])) should be 0") }
            for i in gate.indices where gate[i] >= 100 { #expect(out[i] == gate[i] * up[i], "\(path): silu(\(gate[i])) should be g") }
        }
    }

    @Test("NaN in gives NaN out; +∞ gives ∞·up")
    func nonFinite() {
        let gate: [Float] = [.nan, 1, .infinity, .infinity, 2, -3, .nan, 0.5, 1, -1, 7, 8, 9, 10, 11, 12, 13]
        let up: [Float] = [1, .nan, 2, -1, 1, 1, .nan, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        for path in Self.paths {
            let out = Self.run(gate, up, path: path)
            #expect(out[0].isNaN && out[1].isNaN && out[6].isNaN, "\(path)")
            #expect(out[2] == .infinity && out[3] == -.infinity, "\(path)")
            #expect(!out[4].isNaN && !out[5].isNaN && !out[7].isNaN, "\(path)")
        }
    }

    @Test("a dense sweep of g over [−110, 110]: the polynomial exp stays within tolerance everywhere")
    func sweep() {
        let count = 220_001
        let gate = (0..<count).map { Float(-110 + 220 * Double($0) / Double(count - 1)) }
        let up = [Float](repeating: 1, count: count)
        for path in Self.paths { Self.expectClose(Self.run(gate, up, path: path), gate, up, "\(path) sweep") }
    }

    @Test("an element's bits do not depend on its position or the length (prompt = decode), nor on AVX-512 vs AVX2")
    func positionIndependent() {
        var random = SeededRandom(seed: 5)
        let count = 101
        let gate = random.normals(count, scale: 6), up = random.normals(count, scale: 1)
        for path in Self.paths {
            let whole = Self.run(gate, up, path: path)
            for i in 0..<count {
                let alone = Self.run([gate[i]], [up[i]], path: path)[0]
                #expect(alone.bitPattern == whole[i].bitPattern, "\(path) element \(i)")
            }
            for start in [1, 3, 9, 17] {
                let slice = Self.run(Array(gate[start...]), Array(up[start...]), path: path)
                #expect(zip(slice, whole[start...]).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(path) from \(start)")
            }
            var inPlace = gate
            inPlace.withUnsafeMutableBufferPointer { Kernels.siluMultiply($0.baseAddress!, up, $0.baseAddress!, count, path: path) }
            #expect(zip(inPlace, whole).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(path) in place")
        }
        let best = Self.run(gate, up, path: .best), avx2 = Self.run(gate, up, path: .avx2)
        #expect(zip(best, avx2).allSatisfy { $0.bitPattern == $1.bitPattern }, "the AVX-512 and AVX2 bodies should agree bit for bit")
    }
}
