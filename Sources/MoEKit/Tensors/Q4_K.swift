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

    /// llama.cpp's reference Q4_K quantiser (`quantize_row_q4_K_ref`), byte for byte: each
    /// sub-block of 32 gets its scale and min by `KQuantSearch.scaleAndOffset` (15 levels,
    /// weights w_i = rms(x) + |x_i|, 21 candidate scales); the eight scales and mins are coded as
    /// 6-bit multiples of d = max scale/63 and dmin = max min/63, and the values re-quantised
    /// against the scales as stored (a sub-block whose stored scale is 0 keeps its searched levels).
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: elements + 32) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 16) { floats in
                let levels = bytes.baseAddress!, candidate = levels + elements
                let weights = floats.baseAddress!, scales = weights + 32, offsets = scales + 8
                var maxScale: Float = 0, maxOffset: Float = 0
                for j in 0..<8 {
                    let sub = x + 32 * j
                    var sumX2: Float = 0
                    for i in 0..<32 { sumX2 += sub[i] * sub[i] }
                    let rms = (sumX2 / 32).squareRoot()
                    for i in 0..<32 { weights[i] = rms + abs(sub[i]) }
                    (scales[j], offsets[j]) = KQuantSearch.scaleAndOffset(sub, weights: weights, count: 32, levels: 15, rmin: -1, rdelta: 0.1,
                                                                           steps: 20, into: levels + 32 * j, candidate: candidate)
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if offsets[j] > maxOffset { maxOffset = offsets[j] }
                }
                let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
                let inverseOffset: Float = maxOffset > 0 ? 63 / maxOffset : 0
                var sc = SIMD8<UInt8>(), m = SIMD8<UInt8>()
                for j in 0..<8 {
                    sc[j] = min(63, UInt8(truncatingIfNeeded: KQuantSearch.nearestInt(inverseScale * scales[j])))
                    m[j] = min(63, UInt8(truncatingIfNeeded: KQuantSearch.nearestInt(inverseOffset * offsets[j])))
                }
                let s = block + scalesOffset
                for j in 0..<4 {
                    s.storeBytes(of: sc[j] | (sc[j + 4] >> 4) << 6, toByteOffset: j, as: UInt8.self)
                    s.storeBytes(of: m[j] | (m[j + 4] >> 4) << 6, toByteOffset: j + 4, as: UInt8.self)
                    s.storeBytes(of: sc[j + 4] & 0x0F | (m[j + 4] & 0x0F) << 4, toByteOffset: j + 8, as: UInt8.self)
                }
                storeHalf(maxScale / 63, block, 0)
                storeHalf(maxOffset / 63, block, 2)
                let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
                for j in 0..<8 {
                    let scale = d * Float(sc[j])
                    guard scale != 0 else { continue }
                    let offset = dmin * Float(m[j])
                    for i in 32 * j..<32 * (j + 1) { levels[i] = UInt8(max(0, min(15, KQuantSearch.nearestInt((x[i] + offset) / scale)))) }
                }
                for c in 0..<4 {
                    for l in 0..<32 {
                        block.storeBytes(of: levels[64 * c + l] | levels[64 * c + 32 + l] << 4, toByteOffset: quantsOffset + 32 * c + l, as: UInt8.self)
                    }
                }
            }
        }
    }
}
