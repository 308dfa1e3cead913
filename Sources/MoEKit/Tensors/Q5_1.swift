/// ggml's Q5_1: 32 values in 24 bytes, `f16 d; f16 m; uint32 qh; uint8 q[16]` — Q5_0's quants
/// (nibbles as Q4_0's, fifth bits in qh) with an offset instead of the −16: value = d·n + m for
/// n ∈ 0…31. llama.cpp's Q5_K fallback for rows that are not whole 256-blocks: DeepSeek's
/// 128-wide `attn_k_b` in its Q5_K_M files.
public enum BlockQ5_1 {
    public static let elements = 32
    public static let bytes = 24

    /// Element i: d·n + m in f32, gguf-py's order.
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        loadHalf(block, 0) * Float(BlockQ5_0.fiveBitLevel(block, high: 4, quants: 8, i)) + loadHalf(block, 2)
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<elements { out[i] = value(block, i) }
    }

    /// As gguf-py's `quantize` (the test oracle) and ggml's `quantize_row_q5_1_ref`: d = (max − min)/31,
    /// m = min, n = min(31, trunc((x − min)·(1/d) + 0.5)), with the unrounded d and min.
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var low = x[0], high = x[0]
        for i in 1..<elements {
            low = min(low, x[i])
            high = max(high, x[i])
        }
        let d = (high - low) / 31
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, block, 0)
        storeHalf(low, block, 2)
        BlockQ5_0.storeFiveBitLevels(block, high: 4, quants: 8) { truncatedLevel((x[$0] - low) * id + 0.5, max: 31) }
    }
}
