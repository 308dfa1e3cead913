/// ggml's Q6_K: 256 values in 210 bytes, `uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d`
/// (d last). Sixteen sub-blocks of 16, each an 8-bit signed scale; value = (d·scales[i/16])·(n − 32)
/// for the 6-bit n whose low 4 bits come from ql and high 2 from qh.
///
/// Element i = 128h + 32k + l (half h, quarter k, 0 ≤ l < 32): its low 4 bits are the low nibble
/// (k < 2) or the high nibble (k ≥ 2) of ql[64h + 32(k mod 2) + l]; its high 2 bits are bits
/// 2k…2k+1 of qh[32h + l].
public enum BlockQ6_K {
    public static let elements = 256
    public static let bytes = 210
    static let highOffset = 128
    static let scalesOffset = 192
    static let scaleOffset = 208   // d, the last two bytes

    /// The 6-bit n of element i (0…63; the value uses n − 32).
    @inline(__always) static func level(_ block: UnsafeRawPointer, _ i: Int) -> Int {
        let h = i / 128, k = i % 128 / 32, l = i % 32
        let low = block.load(fromByteOffset: 64 * h + 32 * (k % 2) + l, as: UInt8.self) >> (4 * (k / 2)) & 0x0F
        let high = block.load(fromByteOffset: highOffset + 32 * h + l, as: UInt8.self) >> (2 * k) & 0x03
        return Int(low | high << 4)
    }

    @inline(__always) static func subScale(_ block: UnsafeRawPointer, _ s: Int) -> Float {
        Float(block.load(fromByteOffset: scalesOffset + s, as: Int8.self))
    }

    /// Element i, in gguf-py's order of f32 operations: (d·scale)·(n − 32).
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        loadHalf(block, scaleOffset) * subScale(block, i / 16) * Float(level(block, i) - 32)
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, scaleOffset)
        for s in 0..<16 {
            let scale = d * subScale(block, s)
            for i in s * 16..<(s + 1) * 16 { out[i] = scale * Float(level(block, i) - 32) }
        }
    }
}
