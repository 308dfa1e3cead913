/// How a weight tensor's elements are stored. Element formats (f32, f16, bf16) hold one value per
/// element; block formats (Q8_0, Q4_K …, in the quantisation work) hold `elementsPerBlock` values in
/// `bytesPerBlock` bytes, so a row's bytes are `bytesPerRow(cols)` and a row must be whole blocks.
/// Raw values are the safetensors header spellings.
public enum WeightFormat: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    public var elementsPerBlock: Int { 1 }

    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        }
    }

    /// Bytes of one element of an element format (every format today is one).
    public var byteSize: Int { bytesPerBlock }

    /// Whether a row of `cols` elements is whole blocks.
    public func canHoldRow(of cols: Int) -> Bool { cols % elementsPerBlock == 0 }

    /// Bytes of a row of `cols` elements (`cols` a multiple of `elementsPerBlock`).
    public func bytesPerRow(_ cols: Int) -> Int { cols / elementsPerBlock * bytesPerBlock }

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
@inline(__always) public func loadElement(_ base: UnsafeRawPointer, _ format: WeightFormat, _ index: Int) -> Float {
    switch format {
    case .f32: return base.load(fromByteOffset: index * 4, as: Float.self)
    case .f16: return Float(base.load(fromByteOffset: index * 2, as: Float16.self))
    case .bf16: return bfloat16ToFloat(base.load(fromByteOffset: index * 2, as: UInt16.self))
    }
}

/// Widens `count` elements starting at `base` into `out`.
public func convertToFloat(_ base: UnsafeRawPointer, _ format: WeightFormat, count: Int, into out: UnsafeMutablePointer<Float>) {
    switch format {
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

/// Encodes floats as `dtype` little-endian bytes (for checkpoint writing).
public func encodeFloats(_ values: [Float], as format: WeightFormat) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: values.count * format.byteSize)
    bytes.withUnsafeMutableBytes { raw in
        for (i, value) in values.enumerated() {
            switch format {
            case .f32: raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            case .f16: raw.storeBytes(of: Float16(value).bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self)
            case .bf16: raw.storeBytes(of: floatToBFloat16(value).littleEndian, toByteOffset: i * 2, as: UInt16.self)
            }
        }
    }
    return bytes
}
