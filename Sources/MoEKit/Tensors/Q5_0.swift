/// ggml's Q5_0: 32 values in 22 bytes, `f16 d; uint32 qh; uint8 q[16]` — Q4_0 with a fifth bit.
/// Element i < 16 is the low nibble of q[i], element i + 16 its high nibble; bit i of qh (little
/// endian) is element i's fifth bit: n = nibble + 16·bit ∈ 0…31, value = d·(n − 16). llama.cpp's
/// Q4_K_M files take it where a row is not whole 256-blocks (its Q4_K fallback: DeepSeek-V2-Lite's
/// and Qwen1.5-MoE's 1408-wide expert rows).
public enum BlockQ5_0 {
    public static let elements = 32
    public static let bytes = 22

    /// n of element i of a Q5_0 or Q5_1 block whose qh starts at byte `high` and nibbles at `quants`.
    @inline(__always) static func fiveBitLevel(_ block: UnsafeRawPointer, high: Int, quants: Int, _ i: Int) -> Int {
        let byte = block.load(fromByteOffset: quants + i % 16, as: UInt8.self)
        let bit = block.loadUnaligned(fromByteOffset: high, as: UInt32.self).littleEndian >> UInt32(i) & 1
        return Int(i < 16 ? byte & 0x0F : byte >> 4) | Int(bit) << 4
    }

    /// Writes the 32 levels `level(i)` (0…31) as `fiveBitLevel` reads them.
    @inline(__always) static func storeFiveBitLevels(_ block: UnsafeMutableRawPointer, high: Int, quants: Int, _ level: (Int) -> Int) {
        var bits: UInt32 = 0
        for i in 0..<16 {
            let low = level(i), top = level(i + 16)
            block.storeBytes(of: UInt8(low & 0x0F | (top & 0x0F) << 4), toByteOffset: quants + i, as: UInt8.self)
            bits |= UInt32(low >> 4) << UInt32(i) | UInt32(top >> 4) << UInt32(i + 16)
        }
        block.storeBytes(of: bits.littleEndian, toByteOffset: high, as: UInt32.self)
    }

    /// Element i: d·(n − 16) in f32 (gguf-py widens the small integer, then multiplies).
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        loadHalf(block, 0) * Float(fiveBitLevel(block, high: 2, quants: 6, i) - 16)
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<elements { out[i] = value(block, i) }
    }

    /// As gguf-py's `quantize` (the test oracle) and ggml's `quantize_row_q5_0_ref`: the signed
    /// value of largest magnitude (the first, on ties) maps to −16, so d = max/−16; n = min(31,
    /// trunc(x·(1/d) + 16.5)). (ggml's reference differs only on NaN inputs and on an all-zero
    /// block starting with −0, where its d is −0.)
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (d, id) = signedMaxScale(x, count: elements, divisor: -16)
        storeHalf(d, block, 0)
        storeFiveBitLevels(block, high: 2, quants: 6) { truncatedLevel(x[$0] * id + 16.5, max: 31) }
    }
}
