/// ggml's Q4_0: 32 values in 18 bytes, `f16 d; uint8 q[16]`. Element i < 16 is the low nibble of
/// q[i], element i + 16 its high nibble; value = d·(n − 8).
public enum BlockQ4_0 {
    public static let elements = 32
    public static let bytes = 18

    @inline(__always) static func nibble(_ block: UnsafeRawPointer, _ i: Int) -> Int {
        let byte = block.load(fromByteOffset: 2 + i % 16, as: UInt8.self)
        return Int(i < 16 ? byte & 0x0F : byte >> 4)
    }

    /// Element i: d·(n − 8) in f32 (gguf-py widens the small integer, then multiplies).
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        loadHalf(block, 0) * Float(nibble(block, i) - 8)
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for i in 0..<elements { out[i] = d * Float(nibble(block, i) - 8) }
    }

    /// trunc(v) clamped to 0…15; finite inputs give v in [0.5, 16.5], the clamp keeps a NaN or
    /// infinity (a scale so small its inverse overflows) from trapping.
    @inline(__always) static func level(_ v: Float) -> UInt8 {
        let t = v.rounded(.towardZero)
        return t >= 15 ? 15 : (t >= 0 ? UInt8(t) : 0)
    }

    /// As ggml's `quantize_row_q4_0_ref`: the signed value of largest magnitude (the first, on
    /// ties) maps to −8, so d = max/−8; n = min(15, trunc(x·(1/d) + 8.5)). The asymmetry keeps
    /// all 16 levels in use: the extreme lands exactly on −8 and the other sign reaches +7.
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var amax = abs(x[0]), signedMax = x[0]
        for i in 1..<elements where abs(x[i]) > amax {
            amax = abs(x[i])
            signedMax = x[i]
        }
        let d = signedMax / -8
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, block, 0)
        for i in 0..<elements / 2 {
            let low = level(x[i] * id + 8.5), high = level(x[i + 16] * id + 8.5)
            block.storeBytes(of: low | high << 4, toByteOffset: 2 + i, as: UInt8.self)
        }
    }
}
