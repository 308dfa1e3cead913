import CQuantKernels

/// What the block formats share: their f16 scales, and whole-row conversion to and from f32 by
/// each format's reference (de)quantiser. Block layouts live in Q8_0.swift, Q4_0.swift, Q5_0.swift, Q5_1.swift,
/// Q4_K.swift, Q5_K.swift, Q6_K.swift; the integer matrix–vector kernels in QuantizedKernels.swift.

/// An f16 scale at `offset` (blocks are packed, so unaligned), widened exactly to f32.
@inline(__always) func loadHalf(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

/// Narrows `value` to f16 (round to nearest even, as numpy's `astype(float16)` and ggml do).
@inline(__always) func storeHalf(_ value: Float, _ block: UnsafeMutableRawPointer, _ offset: Int) {
    block.storeBytes(of: Float16(value).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
}

/// trunc(v) clamped to 0…top: the legacy formats' levels (gguf-py and ggml add ½ or the bias plus ½
/// first). Finite inputs land inside the range; the clamp keeps a NaN or infinity (a scale so small
/// its inverse overflows) from trapping.
@inline(__always) func truncatedLevel(_ v: Float, max top: Int) -> Int {
    let t = v.rounded(.towardZero)
    return t >= Float(top) ? top : (t >= 0 ? Int(t) : 0)
}

/// Q4_0's and Q5_0's scale: the signed value of largest magnitude among `count` (the first, on
/// ties) divided by `divisor` (−8, −16: the extreme lands exactly on the lowest level), and 1/d
/// (0 when d is 0).
@inline(__always) func signedMaxScale(_ x: UnsafePointer<Float>, count: Int, divisor: Float) -> (d: Float, inverse: Float) {
    var amax = abs(x[0]), signedMax = x[0]
    for i in 1..<count where abs(x[i]) > amax {
        amax = abs(x[i])
        signedMax = x[i]
    }
    let d = signedMax / divisor
    return (d, d == 0 ? 0 : 1 / d)
}

/// Dequantises `count` elements (whole blocks of `format`) at `base` into `out`, by the C
/// dequantisers (AVX2; `portable`: their scalar bodies), which are bit-identical to the Swift
/// reference ones (`Block….dequantize`); QuantizationTests hold all of them to gguf-py.
func dequantizeBlocks(_ base: UnsafeRawPointer, _ format: WeightFormat, count: Int, into out: UnsafeMutablePointer<Float>, portable: Bool = false) {
    precondition(count % format.elementsPerBlock == 0, "\(count) elements are not whole \(format.name) blocks")
    let dequantize: (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int32) -> Void
    switch format {
    case .q8_0: dequantize = portable ? moe_dequantize_q8_0_scalar : moe_dequantize_q8_0
    case .q4_0: dequantize = portable ? moe_dequantize_q4_0_scalar : moe_dequantize_q4_0
    case .q5_0: dequantize = portable ? moe_dequantize_q5_0_scalar : moe_dequantize_q5_0
    case .q5_1: dequantize = portable ? moe_dequantize_q5_1_scalar : moe_dequantize_q5_1
    case .q4_k: dequantize = portable ? moe_dequantize_q4_k_scalar : moe_dequantize_q4_k
    case .q5_k: dequantize = portable ? moe_dequantize_q5_k_scalar : moe_dequantize_q5_k
    case .q6_k: dequantize = portable ? moe_dequantize_q6_k_scalar : moe_dequantize_q6_k
    case .f32, .f16, .bf16: preconditionFailure("\(format.name) is not a block format")
    }
    // The C functions count in Int32: whole chunks of 2²⁰ elements (a multiple of every block).
    let chunk = 1 << 20
    var start = 0
    while start < count {
        let n = min(chunk, count - start)
        dequantize(base + format.bytesPerRow(start), out + start, Int32(n))
        start += n
    }
}

/// The formats `moepp bench --quantize` and `WeightMatrix.quantized` offer. Q5_0, Q5_1, Q5_K and Q6_K
/// are quantised only by `moepp quantize`, where q4_k_m's rules and fallbacks call for them.
public func canQuantize(to format: WeightFormat) -> Bool {
    [.q8_0, .q4_0, .q4_k].contains(format)
}

/// Quantises `count` floats (whole blocks) into `out` (`format.bytesPerRow(count)` bytes).
public func quantizeBlocks(_ x: UnsafePointer<Float>, count: Int, as format: WeightFormat, into out: UnsafeMutableRawPointer) {
    precondition(count % format.elementsPerBlock == 0, "\(count) elements are not whole \(format.name) blocks")
    let quantize: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void
    switch format {
    case .q8_0: quantize = BlockQ8_0.quantize
    case .q4_0: quantize = BlockQ4_0.quantize
    case .q5_0: quantize = BlockQ5_0.quantize
    case .q5_1: quantize = BlockQ5_1.quantize
    case .q4_k: quantize = BlockQ4_K.quantize
    case .q5_k: quantize = BlockQ5_K.quantize
    case .q6_k: quantize = BlockQ6_K.quantize
    case .f32, .f16, .bf16: preconditionFailure("no quantiser for \(format.name)")
    }
    // Blocks are independent: split across the worker pool (the K-quants' scale searches cost
    // a few hundred operations per weight; a caller already inside a region runs it inline).
    let blocks = count / format.elementsPerBlock
    Parallel.forChunks(blocks, work: count * (format.elementsPerBlock == 256 ? 200 : 4)) { range in
        for b in range { quantize(x + b * format.elementsPerBlock, out + b * format.bytesPerBlock) }
    }
}

public func quantizeBlocks(_ values: [Float], as format: WeightFormat) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: format.bytesPerRow(values.count))
    values.withUnsafeBufferPointer { x in
        bytes.withUnsafeMutableBytes { quantizeBlocks(x.baseAddress!, count: values.count, as: format, into: $0.baseAddress!) }
    }
    return bytes
}

extension WeightMatrix {
    /// This matrix quantised to `format` into heap storage it owns, a tile of rows at a time
    /// (never the whole matrix widened). For `moepp bench --quantize` and tests.
    public func quantized(to format: WeightFormat) -> WeightMatrix {
        precondition(canQuantize(to: format) && format.canHoldRow(of: cols), "cannot quantise \(cols)-wide rows to \(format.name)")
        let rowBytes = format.bytesPerRow(cols)
        let storage = ByteStorage(count: rows * rowBytes)
        let tileRows = max(1, min(rows, (1 << 16) / max(1, cols)))
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * cols)
        defer { tile.deallocate() }
        var start = 0
        while start < rows {
            let count = min(tileRows, rows - start)
            widenRows(start..<start + count, into: tile)
            quantizeBlocks(tile, count: count * cols, as: format, into: storage.pointer + start * rowBytes)
            start += count
        }
        return WeightMatrix(rows: rows, cols: cols, format: format, base: UnsafeRawPointer(storage.pointer), owner: storage)
    }
}

/// Heap bytes owned by WeightMatrix views (quantised copies).
public final class ByteStorage: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = .allocate(byteCount: max(1, count), alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }
}
