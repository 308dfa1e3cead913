import CQuantKernels

/// Matrix–vector products on block-format weights, the way llama.cpp reaches the bandwidth
/// limit: the activation vector is quantised once per product to 8-bit blocks (32 wide for
/// Q8_0/Q4_0/Q5_0/Q5_1, 256 wide with 16-element sums for the K formats), then every row is dotted with it
/// in integers (AVX2 `vpmaddubsw`/`vpmaddwd`, AVX-512 VNNI where present, in Sources/CQuantKernels), one float multiply-add per
/// block. Rows are split across cores like every other matvec. The naive twin is
/// `NaiveKernels.quantizedMatvec`; the activation quantiser's is `NaiveKernels.quantizeActivations`.
enum QuantizedKernels {
    /// The activation block width a format's kernel pairs with.
    static func activationBlock(_ format: WeightFormat) -> Int {
        format.elementsPerBlock == 256 ? 256 : 32
    }

    typealias Path = KernelPath

    /// AVX-512 VNNI bodies where the CPU has it (decided once, at run time; `MOEPP_CPU=avx2` says
    /// no): vpdpbusd for Q8_0/Q4_0, vpmaddubsw + vpdpwssd on 512-bit vectors for Q4_K/Q6_K, and
    /// the rows8 kernels (Q5_K's only in rows8 groups; Q5_0/Q5_1: AVX2 only).
    static let hasVNNI = moe_cpu_has_vnni() != 0

    /// Whether the Q8_0 VNNI matvec (decode) reads four far-apart rows a pass with 256-bit blocks
    /// (`moe_matvec_q8_0_vnni_far`) instead of two adjacent rows with two blocks per zmm: on AMD. On
    /// a Zen 4 (EPYC, 2 vCPUs) the two-blocks-per-zmm body — which paid on the Sapphire Rapids-class
    /// Xeon it was written on — streamed 16.0–18.8 GB/s where four far rows (the AVX2 body's shape)
    /// streamed 22.7–33.4 (BENCHMARKS.md "A Zen 4 with AVX-512"); why was not profiled. Both VNNI
    /// bodies give the same bits as the batched VNNI kernel (the AVX2 body does not).
    static let q8FarRows = hasVNNI && moe_cpu_is_amd() != 0

    /// y = W·x (the products themselves run in `Kernels.matvecs`). `path` other than `.best` is
    /// for tests.
    static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, path: Path = .best) {
        precondition(w.format.elementsPerBlock > 1, "\(w.format.name) is not a block format")
        Kernels.matvec(w, x, y, path: path)
    }

    /// The C activation quantiser's output as (scale per block, quants): what the tests hold to
    /// `NaiveKernels.quantizeActivations` bit for bit.
    static func quantizeActivations(_ x: [Float], blockSize: Int, portable: Bool = false) -> (scales: [Float], quants: [Int8]) {
        precondition(x.count % blockSize == 0)
        let blocks = x.count / blockSize
        var scales = [Float](), quants = [Int8]()
        if blockSize == 32 {
            var out = [moe_block_q8](repeating: moe_block_q8(), count: blocks)
            (portable ? moe_quantize_q8_scalar : moe_quantize_q8)(x, Int32(x.count), &out)
            for block in out {
                scales.append(block.d)
                withUnsafeBytes(of: block.qs) { quants += $0.bindMemory(to: Int8.self) }
                // The VNNI kernels subtract bias·sum: it must be the sum of these quants.
                precondition(Int(block.sum) == quants.suffix(32).reduce(0) { $0 + Int($1) }, "sum disagrees")
            }
        } else {
            var out = [moe_block_q8k](repeating: moe_block_q8k(), count: blocks)
            (portable ? moe_quantize_q8k_scalar : moe_quantize_q8k)(x, Int32(x.count), &out)
            for block in out {
                scales.append(block.d)
                withUnsafeBytes(of: block.qs) { quants += $0.bindMemory(to: Int8.self) }
                // The 16-element sums must agree with the quants they summarise.
                withUnsafeBytes(of: block.bsums) { sums in
                    let q = quants.suffix(256)
                    for (s, sum) in sums.bindMemory(to: Int16.self).enumerated() {
                        precondition(Int(sum) == q.dropFirst(16 * s).prefix(16).reduce(0) { $0 + Int($1) }, "bsums[\(s)] disagrees")
                    }
                }
            }
        }
        return (scales, quants)
    }

    /// Whether the AVX2 bodies were compiled (reports say which path they measured).
    static var usesSIMD: Bool { moe_quant_kernels_simd() != 0 }
}
