/// ggml's Q4_K: 256 values in 144 bytes, `f16 d; f16 dmin; uint8 scales[12]; uint8 q[128]`.
/// Eight sub-blocks of 32, each with a 6-bit scale sc and a 6-bit min m; value = (d·sc)·n − (dmin·m)
/// for the 4-bit n. The 32-byte chunk c of q holds sub-block 2c in its low nibbles and 2c + 1 in its
/// high nibbles.
public enum BlockQ4_K {
    public static let elements = 256
    public static let bytes = 144
    static let scalesOffset = 4
    static let quantsOffset = 16

    /// The 6-bit (sc, m) of sub-block j. Bytes 0–3 hold sc0–3 in their low 6 bits and bytes 4–7
    /// m0–3; bytes 8–11 hold sc4–7 (low nibble) and m4–7 (high nibble), whose bits 4–5 are the top
    /// two bits of bytes 0–3 (sc) and 4–7 (m).
    @inline(__always) public static func scaleAndMin(_ block: UnsafeRawPointer, _ j: Int) -> (sc: UInt8, m: UInt8) {
        let s = block + scalesOffset
        func byte(_ k: Int) -> UInt8 { s.load(fromByteOffset: k, as: UInt8.self) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0x0F) | (byte(j - 4) >> 6) << 4, (byte(j + 4) >> 4) | (byte(j) >> 6) << 4)
    }

    /// The 4-bit n of element i (sub-block i/32).
    @inline(__always) static func nibble(_ block: UnsafeRawPointer, _ i: Int) -> UInt8 {
        let j = i / 32
        let byte = block.load(fromByteOffset: quantsOffset + j / 2 * 32 + i % 32, as: UInt8.self)
        return j % 2 == 0 ? byte & 0x0F : byte >> 4
    }

    /// Element i, in gguf-py's order of f32 operations: (d·sc)·n − (dmin·m).
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        let (sc, m) = scaleAndMin(block, i / 32)
        let scale = loadHalf(block, 0) * Float(sc), offset = loadHalf(block, 2) * Float(m)
        return scale * Float(nibble(block, i)) - offset
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
        for j in 0..<8 {
            let (sc, m) = scaleAndMin(block, j)
            let scale = d * Float(sc), offset = dmin * Float(m)
            for i in j * 32..<(j + 1) * 32 { out[i] = scale * Float(nibble(block, i)) - offset }
        }
    }

    /// A plain min/max quantiser (not llama.cpp's iterative `make_qkx2_quants` search, so not
    /// byte-identical to its files, only close in error): each sub-block's range [min(0, lo), hi]
    /// becomes 15 steps; the eight step sizes and offsets are then coded as 6-bit multiples of
    /// d = max step/63 and dmin = max offset/63, and the values re-quantised against the scales
    /// as actually stored, so rounding of the scales is not compounded.
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var steps = SIMD8<Float>(), offsets = SIMD8<Float>()
        for j in 0..<8 {
            var lo: Float = 0, hi = -Float.infinity
            for i in j * 32..<(j + 1) * 32 { lo = min(lo, x[i]); hi = max(hi, x[i]) }
            steps[j] = max(0, hi - lo) / 15
            offsets[j] = -lo
        }
        storeHalf(steps.max() / 63, block, 0)
        storeHalf(offsets.max() / 63, block, 2)
        let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
        var sc = SIMD8<UInt8>(), m = SIMD8<UInt8>()
        for j in 0..<8 {
            sc[j] = sixBits(d > 0 ? steps[j] / d : 0)
            // Rounding the offset up keeps the block's minimum reachable (n ≥ 0 covers it).
            m[j] = sixBits(dmin > 0 ? (offsets[j] / dmin).rounded(.up) : 0)
        }
        let s = block + scalesOffset
        for j in 0..<4 {
            s.storeBytes(of: sc[j] & 63 | (sc[j + 4] >> 4) << 6, toByteOffset: j, as: UInt8.self)
            s.storeBytes(of: m[j] & 63 | (m[j + 4] >> 4) << 6, toByteOffset: j + 4, as: UInt8.self)
            s.storeBytes(of: sc[j + 4] & 0x0F | (m[j + 4] & 0x0F) << 4, toByteOffset: j + 8, as: UInt8.self)
        }
        for j in 0..<8 {
            let scale = d * Float(sc[j]), offset = dmin * Float(m[j])
            for i in j * 32..<(j + 1) * 32 {
                let n = scale > 0 ? ((x[i] + offset) / scale).rounded() : 0
                let level = UInt8(n.isNaN ? 0 : max(0, min(15, n)))
                let at = quantsOffset + j / 2 * 32 + i % 32
                let old = j % 2 == 0 ? 0 : block.load(fromByteOffset: at, as: UInt8.self)
                block.storeBytes(of: j % 2 == 0 ? level : old | level << 4, toByteOffset: at, as: UInt8.self)
            }
        }
    }

    /// round(v) clamped to the 6-bit range.
    @inline(__always) static func sixBits(_ v: Float) -> UInt8 {
        let r = v.rounded()
        return r.isNaN ? 0 : UInt8(max(0, min(63, r)))
    }
}
