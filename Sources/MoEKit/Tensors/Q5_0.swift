/// ggml's Q5_0: 32 values in 22 bytes, `f16 d; uint32 qh; uint8 q[16]` — Q4_0 with a fifth bit.
/// Element i < 16 is the low nibble of q[i], element i + 16 its high nibble; bit i of qh (little
/// endian) is element i's fifth bit: n = nibble + 16·bit ∈ 0…31, value = d·(n − 16). llama.cpp's
/// Q4_K_M files take it where a row is not whole 256-blocks (its Q4_K fallback: DeepSeek-V2-Lite's
/// and Qwen1.5-MoE's 1408-wide expert rows).
public enum BlockQ5_0 {
    public static let elements = 32
    public static let bytes = 22

    @inline(__always) static func level(_ block: UnsafeRawPointer, _ i: Int) -> Int {
        let byte = block.load(fromByteOffset: 6 + i % 16, as: UInt8.self)
        let high = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self).littleEndian >> UInt32(i) & 1
        return Int(i < 16 ? byte & 0x0F : byte >> 4) | Int(high) << 4
    }

    /// Element i: d·(n − 16) in f32 (gguf-py widens the small integer, then multiplies).
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        loadHalf(block, 0) * Float(level(block, i) - 16)
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<elements { out[i] = value(block, i) }
    }

    /// trunc(v) clamped to 0…31 (finite inputs give v in [0.5, 32.5]; NaN and infinity cannot trap).
    @inline(__always) static func quantLevel(_ v: Float) -> UInt32 {
        let t = v.rounded(.towardZero)
        return t >= 31 ? 31 : (t >= 0 ? UInt32(t) : 0)
    }

    /// As gguf-py's `quantize` (the test oracle) and ggml's `quantize_row_q5_0_ref`: the signed
    /// value of largest magnitude (the first, on ties) maps to −16, so d = max/−16; n = min(31,
    /// trunc(x·(1/d) + 16.5)). (ggml's reference differs only on NaN inputs and on an all-zero
    /// block starting with −0, where its d is −0.)
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var amax = abs(x[0]), signedMax = x[0]
        for i in 1..<elements where abs(x[i]) > amax {
            amax = abs(x[i])
            signedMax = x[i]
        }
        let d = signedMax / -16
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, block, 0)
        var high: UInt32 = 0
        for i in 0..<elements / 2 {
            let low = quantLevel(x[i] * id + 16.5), top = quantLevel(x[i + 16] * id + 16.5)
            block.storeBytes(of: UInt8(low & 0x0F | (top & 0x0F) << 4), toByteOffset: 6 + i, as: UInt8.self)
            high |= (low >> 4) << UInt32(i) | (top >> 4) << UInt32(i + 16)
        }
        block.storeBytes(of: high.littleEndian, toByteOffset: 2, as: UInt32.self)
    }
}
