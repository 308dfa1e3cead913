extension BlockQ6_K {
    /// A plain Q6_K quantiser (for `q4_k_m`'s Q6_K tensors; not llama.cpp's `make_qx_quants`
    /// search, so close in error, not byte-identical): each sub-block of 16 takes the scale that
    /// maps its largest-magnitude element to −32 (llama.cpp's sign convention, which uses the
    /// whole −32…31 range); the sixteen scales are coded as int8 multiples of d = (largest
    /// scale)/−128, and the values re-quantised against the scales as stored.
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var scales = SIMD16<Float>()   // no heap allocation per block
        for s in 0..<16 {
            var extreme: Float = 0
            for i in s * 16..<(s + 1) * 16 where abs(x[i]) > abs(extreme) { extreme = x[i] }
            scales[s] = extreme / -32
        }
        var largest: Float = 0
        for s in 0..<16 where abs(scales[s]) > abs(largest) { largest = scales[s] }
        block.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        guard largest != 0, largest.isFinite else { return }
        storeHalf(largest / -128, block, scaleOffset)
        let d = loadHalf(block, scaleOffset)
        for s in 0..<16 {
            let code = d != 0 ? max(-128, min(127, (scales[s] / d).rounded())) : 0
            block.storeBytes(of: Int8(code), toByteOffset: scalesOffset + s, as: Int8.self)
            let step = d * code
            for i in s * 16..<(s + 1) * 16 {
                let n = step != 0 ? (x[i] / step).rounded() : 0
                let level = UInt8(n.isNaN ? 32 : max(0, min(63, n + 32)))
                // Element i = 128h + 32k + l: low 4 bits in nibble k/2 of ql[64h + 32(k mod 2) + l],
                // high 2 bits at bits 2k of qh[32h + l] (the layout `level(_:_:)` reads).
                let h = i / 128, k = i % 128 / 32, l = i % 32
                let low = 64 * h + 32 * (k % 2) + l, high = highOffset + 32 * h + l
                block.storeBytes(of: block.load(fromByteOffset: low, as: UInt8.self) | (level & 0x0F) << (4 * (k / 2)), toByteOffset: low, as: UInt8.self)
                block.storeBytes(of: block.load(fromByteOffset: high, as: UInt8.self) | (level >> 4) << (2 * k), toByteOffset: high, as: UInt8.self)
            }
        }
    }
}
