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

    /// llama.cpp's reference Q4_K quantiser (`quantize_row_q4_K_ref`), byte for byte: the scales,
    /// mins and 4-bit levels by `KQuantSearch.scalesAndMins` (15 levels, 21 candidate scales per
    /// sub-block), the levels packed as `nibble(_:_:)` reads them.
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: elements) { buffer in
            let levels = buffer.baseAddress!
            KQuantSearch.scalesAndMins(x, levels: 15, rmin: -1, steps: 20, header: block, into: levels)
            for c in 0..<4 {
                for l in 0..<32 {
                    block.storeBytes(of: levels[64 * c + l] | levels[64 * c + 32 + l] << 4, toByteOffset: quantsOffset + 32 * c + l, as: UInt8.self)
                }
            }
        }
    }
}
