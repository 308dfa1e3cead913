/// How a weight tensor's elements are stored. Element formats (f32, f16, bf16) hold one value per
/// element; block formats (ggml's Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) hold `elementsPerBlock` values in
/// `bytesPerBlock` bytes, so a row's bytes are `bytesPerRow(cols)` and a row must be whole blocks.
/// Raw values are the safetensors header spellings (element formats) and ggml's type names
/// (block formats; safetensors refuses those). Each block format's layout is in its own file.
public enum WeightFormat: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case q8_0 = "Q8_0"
    case q4_0 = "Q4_0"
    case q5_0 = "Q5_0"
    case q5_1 = "Q5_1"
    case q4_k = "Q4_K"
    case q5_k = "Q5_K"
    case q6_k = "Q6_K"

    /// The formats with one value per element: what safetensors, `.bin` and the writers hold.
    public static let elementFormats: [WeightFormat] = allCases.filter { $0.elementsPerBlock == 1 }
    /// The quantised formats, whose rows are whole blocks.
    public static let blockFormats: [WeightFormat] = allCases.filter { $0.elementsPerBlock > 1 }

    public var elementsPerBlock: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q8_0: return BlockQ8_0.elements
        case .q4_0: return BlockQ4_0.elements
        case .q5_0: return BlockQ5_0.elements
        case .q5_1: return BlockQ5_1.elements
        case .q4_k: return BlockQ4_K.elements
        case .q5_k: return BlockQ5_K.elements
        case .q6_k: return BlockQ6_K.elements
        }
    }

    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8_0: return BlockQ8_0.bytes
        case .q4_0: return BlockQ4_0.bytes
        case .q5_0: return BlockQ5_0.bytes
        case .q5_1: return BlockQ5_1.bytes
        case .q4_k: return BlockQ4_K.bytes
        case .q5_k: return BlockQ5_K.bytes
        case .q6_k: return BlockQ6_K.bytes
        }
    }

    /// Bytes of one element of an element format; for a block format, of one block (callers that
    /// count elements must first check `elementsPerBlock == 1`).
    public var byteSize: Int { bytesPerBlock }

    /// Whether a row of `cols` elements is whole blocks.
    public func canHoldRow(of cols: Int) -> Bool { cols % elementsPerBlock == 0 }

    /// Bytes of a row of `cols` elements (`cols` a multiple of `elementsPerBlock`).
    public func bytesPerRow(_ cols: Int) -> Int { cols / elementsPerBlock * bytesPerBlock }

    /// Bytes of a tensor of `shape` (PyTorch order: rows of `shape.last` elements; a scalar or a
    /// vector is one row).
    public func byteCount(shape: [Int]) -> Int { bytesPerRow(shape.last ?? 1) * shape.dropLast().reduce(1, *) }

    /// Lower-case name used on the command line and in reports.
    public var name: String { rawValue.lowercased() }
}

/// bfloat16 is the top half of an IEEE f32: widening is a 16-bit shift.
@inline(__always) public func bfloat16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Round-to-nearest-even narrowing, as PyTorch does; NaN stays NaN.
@inline(__always) public func floatToBFloat16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
    let roundingBias = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
}

/// Reads element `index` of a raw buffer of `format` as Float (the slow, obviously-right path).
/// A block format's element is its block's reference dequantisation at that position.
@inline(__always) public func loadElement(_ base: UnsafeRawPointer, _ format: WeightFormat, _ index: Int) -> Float {
    switch format {
    case .f32: return base.load(fromByteOffset: index * 4, as: Float.self)
    case .f16: return Float(base.load(fromByteOffset: index * 2, as: Float16.self))
    case .bf16: return bfloat16ToFloat(base.load(fromByteOffset: index * 2, as: UInt16.self))
    case .q8_0: return BlockQ8_0.value(base + index / 32 * BlockQ8_0.bytes, index % 32)
    case .q4_0: return BlockQ4_0.value(base + index / 32 * BlockQ4_0.bytes, index % 32)
    case .q5_0: return BlockQ5_0.value(base + index / 32 * BlockQ5_0.bytes, index % 32)
    case .q5_1: return BlockQ5_1.value(base + index / 32 * BlockQ5_1.bytes, index % 32)
    case .q4_k: return BlockQ4_K.value(base + index / 256 * BlockQ4_K.bytes, index % 256)
    case .q5_k: return BlockQ5_K.value(base + index / 256 * BlockQ5_K.bytes, index % 256)
    case .q6_k: return BlockQ6_K.value(base + index / 256 * BlockQ6_K.bytes, index % 256)
    }
}

/// Widens `count` elements starting at `base` into `out` (for a block format, `count` whole blocks).
public func convertToFloat(_ base: UnsafeRawPointer, _ format: WeightFormat, count: Int, into out: UnsafeMutablePointer<Float>) {
    switch format {
    case .q8_0, .q4_0, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k:
        dequantizeBlocks(base, format, count: count, into: out)
    case .f32:
        out.update(from: base.assumingMemoryBound(to: Float.self), count: count)
    case .f16:
        let source = base.assumingMemoryBound(to: Float16.self)
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD16<Float16>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD16<Float>(v), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { out[i] = Float(source[i]); i += 1 }
    case .bf16:
        let source = base.assumingMemoryBound(to: UInt16.self)
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD16<UInt16>.self)
            let wide = SIMD16<UInt32>(truncatingIfNeeded: v) &<< 16
            UnsafeMutableRawPointer(out + i).storeBytes(of: unsafeBitCast(wide, to: SIMD16<Float>.self), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { out[i] = bfloat16ToFloat(source[i]); i += 1 }
    }
}

/// Encodes floats as `dtype` little-endian bytes (for checkpoint writing); a block format
/// quantises them (`values.count` whole blocks).
public func encodeFloats(_ values: [Float], as format: WeightFormat) -> [UInt8] {
    if format.elementsPerBlock > 1 { return quantizeBlocks(values, as: format) }
    var bytes = [UInt8](repeating: 0, count: values.count * format.byteSize)
    bytes.withUnsafeMutableBytes { raw in
        for (i, value) in values.enumerated() {
            switch format {
            case .f32: raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            case .f16: raw.storeBytes(of: Float16(value).bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self)
            case .bf16: raw.storeBytes(of: floatToBFloat16(value).littleEndian, toByteOffset: i * 2, as: UInt16.self)
            case .q8_0, .q4_0, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k: preconditionFailure("block formats are quantised above")
            }
        }
    }
    return bytes
}
