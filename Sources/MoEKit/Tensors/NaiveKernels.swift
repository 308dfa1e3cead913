/// Obviously-correct references for `Kernels`, in Double where accumulation order matters.
/// Never used on a hot path; tests hold the optimised kernels equal to these.
public enum NaiveKernels {
    public static func matvec(_ w: WeightMatrix, _ x: [Float]) -> [Float] {
        (0..<w.rows).map { r in
            var sum = 0.0
            for c in 0..<w.cols { sum += Double(w.element(r, c)) * Double(x[c]) }
            return Float(sum)
        }
    }

    /// The twin of the integer kernels for block formats: x quantised as they quantise it, both
    /// sides dequantised by the reference functions, products summed in Double.
    public static func quantizedMatvec(_ w: WeightMatrix, _ x: [Float]) -> [Float] {
        let blockSize = QuantizedKernels.activationBlock(w.format)
        let (scales, quants) = quantizeActivations(x, blockSize: blockSize)
        let xq = quants.indices.map { Double(Float(quants[$0]) * scales[$0 / blockSize]) }
        return (0..<w.rows).map { r in
            var sum = 0.0
            for c in 0..<w.cols { sum += Double(w.element(r, c)) * xq[c] }
            return Float(sum)
        }
    }

    /// Activations to 8-bit blocks: d = max|x|/127 per block, q = x·(1/d) rounded half to even.
    public static func quantizeActivations(_ x: [Float], blockSize: Int) -> (scales: [Float], quants: [Int8]) {
        var scales = [Float](), quants = [Int8]()
        for start in stride(from: 0, to: x.count, by: blockSize) {
            let block = x[start..<start + blockSize]
            let d = block.reduce(Float(0)) { max($0, abs($1)) } / 127
            let id: Float = d != 0 ? 1 / d : 0
            scales.append(d)
            quants += block.map { Int8(($0 * id).rounded(.toNearestOrEven)) }
        }
        return (scales, quants)
    }

    /// Y = X·Wᵀ with X given as token rows.
    public static func matmul(_ w: WeightMatrix, _ x: [[Float]]) -> [[Float]] {
        x.map { matvec(w, $0) }
    }

    public static func rmsNorm(_ x: [Float], _ weight: [Float], _ eps: Float) -> [Float] {
        let meanSquare = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)
        let scale = 1 / (meanSquare + Double(eps)).squareRoot()
        return zip(x, weight).map { Float(Double($0) * scale * Double($1)) }
    }

    public static func softmax(_ z: [Float]) -> [Float] {
        let maximum = z.max() ?? 0
        if maximum == -.infinity { return z.map { _ in 0 } }
        let exps = z.map { $0 == -.infinity ? 0 : exp(Double($0 - maximum)) }
        let sum = exps.reduce(0, +)
        return exps.map { Float($0 / sum) }
    }

    public static func siluMultiply(_ gate: [Float], _ up: [Float]) -> [Float] {
        zip(gate, up).map { g, u in Float(Double(g) / (1 + exp(-Double(g))) * Double(u)) }
    }

    /// Rotate-half RoPE on one head vector at `position`, frequencies θ^(−2i/d).
    public static func rope(_ head: [Float], position: Int, theta: Float) -> [Float] {
        let half = head.count / 2
        var out = head
        for i in 0..<half {
            let angle = Double(position) * pow(Double(theta), -2.0 * Double(i) / Double(head.count))
            let (a, b) = (Double(head[i]), Double(head[i + half]))
            out[i] = Float(a * cos(angle) - b * sin(angle))
            out[i + half] = Float(b * cos(angle) + a * sin(angle))
        }
        return out
    }
}

import Foundation
