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

    /// As ggml's `quantize_row_q4_0_ref`: the signed value of largest magnitude (the first, on
    /// ties) maps to −8, so d = max/−8; n = min(15, trunc(x·(1/d) + 8.5)). The asymmetry keeps
    /// all 16 levels in use: the extreme lands exactly on −8 and the other sign reaches +7.
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (d, id) = signedMaxScale(x, count: elements, divisor: -8)
        storeHalf(d, block, 0)
        for i in 0..<elements / 2 {
            let low = truncatedLevel(x[i] * id + 8.5, max: 15), high = truncatedLevel(x[i + 16] * id + 8.5, max: 15)
            block.storeBytes(of: UInt8(low | high << 4), toByteOffset: 2 + i, as: UInt8.self)
        }
    }
}
