extension BlockQ6_K {
    /// llama.cpp's reference Q6_K quantiser (`quantize_row_q6_K_ref`), byte for byte: each
    /// sub-block of 16 gets its scale by `KQuantSearch.symmetricScale` (levels −32…31, 19
    /// candidate scales weighted by x²); the sixteen scales are coded as int8 multiples of
    /// d = (the largest-magnitude scale)/−128, and the values re-quantised against the scales as
    /// stored (a sub-block whose stored scale is 0 keeps its searched levels).
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        block.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        var scales = SIMD16<Float>()   // no heap allocation per block
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { buffer in
            let levels = buffer.baseAddress!
            var largest: Float = 0, largestMagnitude: Float = 0
            for s in 0..<16 {
                scales[s] = KQuantSearch.symmetricScale(x + 16 * s, count: 16, levels: 32, into: levels + 16 * s)
                if abs(scales[s]) > largestMagnitude {
                    largestMagnitude = abs(scales[s])
                    largest = scales[s]
                }
            }
            guard largestMagnitude >= 1e-15 else { return }   // all zero: d = 0, every byte 0
            let iscale = -128 / largest
            storeHalf(1 / iscale, block, scaleOffset)
            let d = loadHalf(block, scaleOffset)
            for s in 0..<16 {
                let code = Int8(truncatingIfNeeded: min(127, KQuantSearch.nearestInt(iscale * scales[s])))
                block.storeBytes(of: code, toByteOffset: scalesOffset + s, as: Int8.self)
                let step = d * Float(code)
                guard step != 0 else { continue }
                for i in 16 * s..<16 * (s + 1) { levels[i] = Int8(max(-32, min(31, KQuantSearch.nearestInt(x[i] / step))) + 32) }
            }
            for i in 0..<256 {
                // Element i = 128h + 32k + l: low 4 bits in nibble k/2 of ql[64h + 32(k mod 2) + l],
                // high 2 bits at bits 2k of qh[32h + l] (the layout `level(_:_:)` reads).
                let level = UInt8(bitPattern: levels[i])
                let h = i / 128, k = i % 128 / 32, l = i % 32
                let low = 64 * h + 32 * (k % 2) + l, high = highOffset + 32 * h + l
                block.storeBytes(of: block.load(fromByteOffset: low, as: UInt8.self) | (level & 0x0F) << (4 * (k / 2)), toByteOffset: low, as: UInt8.self)
                block.storeBytes(of: block.load(fromByteOffset: high, as: UInt8.self) | (level >> 4) << (2 * k), toByteOffset: high, as: UInt8.self)
            }
        }
    }
}
