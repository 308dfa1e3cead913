/// The scale searches behind the K-quant quantisers (Q4_K, Q5_K, Q6_K): the procedures of llama.cpp's
/// reference quantisers (`quantize_row_q{4,5,6}_K_ref` in ggml-quants.c,
/// without an importance matrix), followed step for step in the same f32 operations, so that
/// the blocks equal llama.cpp's byte for byte (QuantizationTests, fixtures made by llama.cpp
/// itself). A plain min/max scale loses to them in error; the search tries a few scales around
/// it and keeps the one with the least weighted squared error.
enum KQuantSearch {
    /// Rounds half to even, as ggml's `nearest_int` does (1.5·2²³ added, the low mantissa bits
    /// read back). Bit arithmetic only: no trap on NaN or infinity, whatever comes in.
    @inline(__always) static func nearestInt(_ value: Float) -> Int {
        let shifted = value + 12_582_912
        return Int(Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF)) - 0x0040_0000
    }

    /// An asymmetric code for `n` values with weights w: levels L ∈ 0…nmax and
    /// x ≈ scale·L − offset. Starting from min/max, it tries iscale = (nmax + rmin + rdelta·k)/(max − min)
    /// for k = 0…steps, fits scale and min to each candidate's levels by weighted least squares
    ///   scale = (Σw·Σwlx − Σwx·Σwl)/D,  min = (Σwl²·Σwx − Σwl·Σwlx)/D,  D = Σw·Σwl² − (Σwl)²
    /// (min clamped to ≤ 0), and keeps the least Σw·(scale·L + min − x)². Returns (scale, offset = −min);
    /// `levels` gets the kept L, `candidate` is scratch of n.
    static func scaleAndOffset(_ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>, count n: Int, levels nmax: Int,
                               rmin: Float, rdelta: Float, steps: Int,
                               into levels: UnsafeMutablePointer<UInt8>, candidate: UnsafeMutablePointer<UInt8>) -> (scale: Float, offset: Float) {
        var low = x[0], high = x[0]
        var sumW = w[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < low { low = x[i] }
            if x[i] > high { high = x[i] }
            sumW += w[i]
            sumX += w[i] * x[i]
        }
        if low > 0 { low = 0 }
        if high == low {
            levels.update(repeating: 0, count: n)
            return (0, -low)
        }
        var iscale = Float(nmax) / (high - low)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            levels[i] = UInt8(max(0, min(nmax, nearestInt(iscale * (x[i] - low)))))
            let diff = scale * Float(levels[i]) + low - x[i]
            bestError += w[i] * (diff * diff)
        }
        guard steps >= 1 else { return (scale, -low) }
        for step in 0...steps {
            // `low` is the best fit's min so far: later candidates start from it.
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (high - low)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - low))))
                candidate[i] = UInt8(l)
                let (lf, wi) = (Float(l), w[i])
                sumL += wi * lf
                sumL2 += wi * lf * lf
                sumXL += wi * lf * x[i]
            }
            let determinant = sumW * sumL2 - sumL * sumL
            guard determinant > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant
            var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n {
                let diff = thisScale * Float(candidate[i]) + thisMin - x[i]
                error += w[i] * (diff * diff)
            }
            if error < bestError {
                levels.update(from: candidate, count: n)
                bestError = error
                scale = thisScale
                low = thisMin
            }
        }
        return (scale, -low)
    }

    /// A symmetric code for `n` values: levels L ∈ −nmax…nmax−1 (stored as L + nmax) with
    /// x ≈ scale·L, the largest-magnitude value mapped to −nmax. Tries iscale = −(nmax + 0.1·k)/max
    /// for k = −9…9 and keeps the scale Σwxl/Σwl² (w = x²) with the largest (Σwxl)²/Σwl², i.e.
    /// the least weighted squared error. Returns the scale (0 for an all-zero group).
    static func symmetricScale(_ x: UnsafePointer<Float>, count n: Int, levels nmax: Int, into levels: UnsafeMutablePointer<Int8>) -> Float {
        var extreme: Float = 0, largest: Float = 0
        for i in 0..<n where abs(x[i]) > largest {
            largest = abs(x[i])
            extreme = x[i]
        }
        guard largest >= 1e-15 else {
            levels.update(repeating: 0, count: n)
            return 0
        }
        @inline(__always) func level(_ iscale: Float, _ i: Int) -> Int { max(-nmax, min(nmax - 1, nearestInt(iscale * x[i]))) }
        var iscale = Float(-nmax) / extreme
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = level(iscale, i)
            levels[i] = Int8(l + nmax)
            let (lf, wi) = (Float(l), x[i] * x[i])
            sumLX += wi * x[i] * lf
            sumL2 += wi * lf * lf
        }
        var scale = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for k in -9...9 where k != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(k)) / extreme
            sumLX = 0
            sumL2 = 0
            for i in 0..<n {
                let (lf, wi) = (Float(level(iscale, i)), x[i] * x[i])
                sumLX += wi * x[i] * lf
                sumL2 += wi * lf * lf
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n { levels[i] = Int8(level(iscale, i) + nmax) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }

    /// The d, dmin and packed 6-bit scales and mins shared by Q4_K and Q5_K (bytes 0–15 of their
    /// blocks, `BlockQ4_K.scaleAndMin`'s layout) and the 256 levels (0…nmax) for the caller to pack:
    /// llama.cpp's `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref` up to the packing. Each sub-block
    /// of 32 gets its scale and offset from `scaleAndOffset` (weights w_i = rms(x) + |x_i|); the
    /// eight are coded as 6-bit multiples of d = max scale/63 and dmin = max offset/63, and the
    /// values re-quantised against the scales as stored (a sub-block whose stored scale is 0 keeps
    /// its searched levels).
    static func scalesAndMins(_ x: UnsafePointer<Float>, levels nmax: Int, rmin: Float, steps: Int,
                              header block: UnsafeMutableRawPointer, into levels: UnsafeMutablePointer<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { candidate in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 16) { floats in
                let weights = floats.baseAddress!, scales = weights + 32, offsets = scales + 8
                var maxScale: Float = 0, maxOffset: Float = 0
                for j in 0..<8 {
                    let sub = x + 32 * j
                    var sumX2: Float = 0
                    for i in 0..<32 { sumX2 += sub[i] * sub[i] }
                    let rms = (sumX2 / 32).squareRoot()
                    for i in 0..<32 { weights[i] = rms + abs(sub[i]) }
                    (scales[j], offsets[j]) = scaleAndOffset(sub, weights: weights, count: 32, levels: nmax, rmin: rmin, rdelta: 0.1,
                                                             steps: steps, into: levels + 32 * j, candidate: candidate.baseAddress!)
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if offsets[j] > maxOffset { maxOffset = offsets[j] }
                }
                let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
                let inverseOffset: Float = maxOffset > 0 ? 63 / maxOffset : 0
                var sc = SIMD8<UInt8>(), m = SIMD8<UInt8>()
                for j in 0..<8 {
                    sc[j] = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseScale * scales[j])))
                    m[j] = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseOffset * offsets[j])))
                }
                let s = block + 4
                for j in 0..<4 {
                    s.storeBytes(of: sc[j] | (sc[j + 4] >> 4) << 6, toByteOffset: j, as: UInt8.self)
                    s.storeBytes(of: m[j] | (m[j + 4] >> 4) << 6, toByteOffset: j + 4, as: UInt8.self)
                    s.storeBytes(of: sc[j + 4] & 0x0F | (m[j + 4] & 0x0F) << 4, toByteOffset: j + 8, as: UInt8.self)
                }
                storeHalf(maxScale / 63, block, 0)
                storeHalf(maxOffset / 63, block, 2)
                let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
                for j in 0..<8 {
                    let scale = d * Float(sc[j])
                    guard scale != 0 else { continue }
                    let offset = dmin * Float(m[j])
                    for i in 32 * j..<32 * (j + 1) { levels[i] = UInt8(max(0, min(nmax, nearestInt((x[i] + offset) / scale)))) }
                }
            }
        }
    }
}
