/// ggml's Q5_K: 256 values in 176 bytes, `f16 d; f16 dmin; uint8 scales[12]; uint8 qh[32];
/// uint8 q[128]` — Q4_K with a fifth bit per value. d, dmin and the packed 6-bit scales and mins
/// are Q4_K's (`BlockQ4_K.scaleAndMin`), the nibbles sit where Q4_K's do (32 bytes later), and bit
/// j of qh[i mod 32] is the fifth bit of element i of sub-block j: n = nibble + 16·bit ∈ 0…31,
/// value = (d·sc)·n − (dmin·m). The format of llama.cpp's Q5_K_M files and of `attn_output` in its
/// Q4_K_M files of 8-expert models.
public enum BlockQ5_K {
    public static let elements = 256
    public static let bytes = 176
    static let highOffset = 16
    static let quantsOffset = 48

    /// The 5-bit n of element i (sub-block i/32).
    @inline(__always) static func level(_ block: UnsafeRawPointer, _ i: Int) -> UInt8 {
        let j = i / 32
        let byte = block.load(fromByteOffset: quantsOffset + j / 2 * 32 + i % 32, as: UInt8.self)
        let high = block.load(fromByteOffset: highOffset + i % 32, as: UInt8.self) >> j & 1
        return (j % 2 == 0 ? byte & 0x0F : byte >> 4) | high << 4
    }

    /// Element i, in gguf-py's order of f32 operations: (d·sc)·n − (dmin·m).
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        let (sc, m) = BlockQ4_K.scaleAndMin(block, i / 32)
        let scale = loadHalf(block, 0) * Float(sc), offset = loadHalf(block, 2) * Float(m)
        return scale * Float(level(block, i)) - offset
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<elements { out[i] = value(block, i) }
    }

    /// llama.cpp's reference Q5_K quantiser (`quantize_row_q5_K_ref`), byte for byte: the scales,
    /// mins and 5-bit levels by `KQuantSearch.scalesAndMins` (31 levels, 16 candidate scales per
    /// sub-block), the levels packed as `level(_:_:)` reads them.
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: elements) { buffer in
            let levels = buffer.baseAddress!
            KQuantSearch.scalesAndMins(x, levels: 31, rmin: -0.5, steps: 15, header: block, into: levels)
            for l in 0..<32 {
                var high: UInt8 = 0
                for j in 0..<8 { high |= (levels[32 * j + l] >> 4) << j }
                block.storeBytes(of: high, toByteOffset: highOffset + l, as: UInt8.self)
            }
            for c in 0..<4 {
                for l in 0..<32 {
                    let low = levels[64 * c + l] & 0x0F, high = levels[64 * c + 32 + l] & 0x0F
                    block.storeBytes(of: low | high << 4, toByteOffset: quantsOffset + 32 * c + l, as: UInt8.self)
                }
            }
        }
    }
}
