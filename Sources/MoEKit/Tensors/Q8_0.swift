/// ggml's Q8_0: 32 values in 34 bytes, `f16 d; int8 q[32]`, value i = d·q[i].
/// The reference pair (quantise, dequantise) is what the fixtures hold to gguf-py bit for bit and
/// what the integer kernels' naive twins are built from.
public enum BlockQ8_0 {
    public static let elements = 32
    public static let bytes = 34

    /// Element i of the block at `block`: q[i]·d, in f32 (the product gguf-py forms).
    @inline(__always) public static func value(_ block: UnsafeRawPointer, _ i: Int) -> Float {
        Float(block.load(fromByteOffset: 2 + i, as: Int8.self)) * loadHalf(block, 0)
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for i in 0..<elements { out[i] = Float(block.load(fromByteOffset: 2 + i, as: Int8.self)) * d }
    }

    /// As ggml's `quantize_row_q8_0_ref`: d = max|x|/127 in f32, q = round-half-away(x·(1/d)),
    /// and only then d is narrowed to f16 (so q is computed against the unrounded scale).
    public static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for i in 0..<elements { amax = max(amax, abs(x[i])) }
        let d = amax / 127
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, block, 0)
        for i in 0..<elements {
            // |x·id| ≤ 127 for finite x; the clamp only keeps a NaN or infinity from trapping.
            let q = (x[i] * id).rounded(.toNearestOrAwayFromZero)
            block.storeBytes(of: Int8(q.isNaN ? 0 : max(-127, min(127, q))), toByteOffset: 2 + i, as: Int8.self)
        }
    }
}
