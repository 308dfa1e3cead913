import CQuantKernels

/// One matrix–vector product y = W·x of a group (`Kernels.matvecs`).
public struct MatvecProduct {
    public let w: WeightMatrix
    public let x: UnsafePointer<Float>
    public let y: UnsafeMutablePointer<Float>

    public init(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        self.w = w
        self.x = x
        self.y = y
    }
}

/// Which kernel bodies run: the best this CPU has (decided once, at run time), or — for tests,
/// so that a machine with AVX-512 still exercises the others, and `matvec-bench --kernels` — one
/// in particular. `.avx2` is the scalar bodies where AVX2 was not compiled (not x86-64).
public enum KernelPath: String, CaseIterable, Sendable {
    case best, avx2, scalar
}

extension Kernels {
    /// AVX-512F bodies for f32, f16 and bf16 where the CPU has them.
    static let hasAVX512 = moe_cpu_has_avx512() != 0

    /// Whether the AVX-512 f32, f16 and bf16 matvecs read four far-apart rows a pass without software
    /// prefetch (`moe_matvec_f16_avx512_far`, …) instead of one row with prefetch (f16, bf16) or four
    /// adjacent rows (f32): on AMD. On a Zen 4, far ÷ before: `matvec-bench` 8192×1536 1.10× at f32,
    /// f16 and bf16 (5 interleaved rounds each); 1.1 B Mixtral decode f32 1.18× (1.13–1.21), f16 1.20×
    /// (0.95–1.46), bf16 1.13× (0.94–1.54) over 4 — for f16/bf16 a gain smaller than that machine's
    /// noise in some rounds (BENCHMARKS.md "A Zen 4 with AVX-512"). Intel keeps the bodies tuned
    /// there. Same bits either way.
    static let farRows512 = hasAVX512 && moe_cpu_is_amd() != 0

    /// Runs several products as one parallel region: the rows of all of them are split across the
    /// cores together, so q/k/v, or the gate|up products of every expert a token chose, cost one
    /// hand-off to the worker pool instead of one per matrix (and the small ones no longer run
    /// alone on one core). Each product's input is prepared once first (bf16: x split even/odd;
    /// block formats: x quantised to 8-bit blocks), into scratch on the stack.
    public static func matvecs(_ products: [MatvecProduct]) {
        products.withUnsafeBufferPointer { matvecs($0, path: .best) }
    }

    static func matvecs(_ products: UnsafeBufferPointer<MatvecProduct>, path: KernelPath, precision: ComputePrecision = .current) {
        let scratchBytes = products.reduce(0) { $0 + preparedBytes($1.w) }
        ThreadScratch.withBytes(max(64, scratchBytes)) { scratch in
            withUnsafeTemporaryAllocation(of: UnsafeRawPointer.self, capacity: products.count) { inputs in
                var offset = 0
                var (totalRows, work) = (0, 0)
                for (p, product) in products.enumerated() {
                    totalRows += product.w.rows
                    work += product.w.rows * product.w.cols
                    // q/k/v, and the gate|up products of every chosen expert, read one input: prepare it once.
                    if let earlier = (0..<p).first(where: { sharesPreparedInput(products[$0], product) }) {
                        inputs[p] = inputs[earlier]
                        continue
                    }
                    let prepared = scratch + offset
                    prepare(product, into: prepared, path: path, precision: precision)
                    inputs[p] = UnsafeRawPointer(prepared)
                    offset += preparedBytes(product.w)
                }
                // The region's body as a C function of this context: no allocation per region.
                withUnsafePointer(to: ProductRegion(products: products, inputs: UnsafeBufferPointer(inputs), path: path, precision: precision)) {
                    Parallel.forChunks(totalRows, work: work, context: $0) { context, lower, upper in
                        context.assumingMemoryBound(to: ProductRegion.self).pointee.run(lower..<upper)
                    }
                }
            }
        }
    }

    /// Two or three products as one parallel region (`matvecs`), their list on the stack: an
    /// array literal would be a heap allocation per call, several per decode step.
    static func matvecs(_ a: MatvecProduct, _ b: MatvecProduct, _ c: MatvecProduct? = nil) {
        withUnsafeTemporaryAllocation(of: MatvecProduct.self, capacity: 3) { list in
            list.initializeElement(at: 0, to: a)
            list.initializeElement(at: 1, to: b)
            var count = 2
            if let c { list.initializeElement(at: 2, to: c); count = 3 }
            matvecs(UnsafeBufferPointer(rebasing: list[..<count]), path: .best)
            list.baseAddress!.deinitialize(count: count)
        }
    }

    /// A product list's rows, numbered through the list, with their prepared inputs.
    private struct ProductRegion {
        let products: UnsafeBufferPointer<MatvecProduct>
        let inputs: UnsafeBufferPointer<UnsafeRawPointer>
        let path: KernelPath
        let precision: ComputePrecision

        func run(_ range: Range<Int>) {
            var first = 0
            for (p, product) in products.enumerated() {
                let lower = max(range.lowerBound, first), upper = min(range.upperBound, first + product.w.rows)
                if lower < upper { Kernels.rows(product, input: inputs[p], lower - first ..< upper - first, path: path, precision: precision) }
                first += product.w.rows
                if first >= range.upperBound { break }
            }
        }
    }

    /// Scratch bytes a product's prepared input takes (a multiple of 64).
    static func preparedBytes(_ w: WeightMatrix) -> Int {
        let bytes: Int
        switch w.format {
        case .f32, .f16: bytes = 0
        case .bf16: bytes = w.cols * MemoryLayout<Float>.stride
        case .q8_0, .q4_0, .q5_0, .q5_1: bytes = w.cols / 32 * MemoryLayout<moe_block_q8>.stride
        case .q4_k, .q5_k, .q6_k: bytes = w.cols / 256 * MemoryLayout<moe_block_q8k>.stride
        }
        return (bytes + 63) & ~63
    }

    /// Whether `b`'s prepared input is `a`'s: the same vector, as long, prepared the same way
    /// (Q8_0, Q4_0, Q5_0 and Q5_1 quantise to 32-element blocks, Q4_K, Q5_K and Q6_K to 256-element ones).
    static func sharesPreparedInput(_ a: MatvecProduct, _ b: MatvecProduct) -> Bool {
        guard a.x == b.x, a.w.cols == b.w.cols else { return false }
        let (f, g) = (a.w.format, b.w.format)
        if f == .bf16 || g == .bf16 { return f == g }
        // Block formats quantise the activation by their activation block width alone.
        return f.elementsPerBlock > 1 && g.elementsPerBlock > 1 && QuantizedKernels.activationBlock(f) == QuantizedKernels.activationBlock(g)
    }

    static func prepare(_ product: MatvecProduct, into scratch: UnsafeMutableRawPointer, path: KernelPath, precision: ComputePrecision) {
        let n = Int32(product.w.cols)
        switch product.w.format {
        case .f32, .f16: break
        case .bf16 where precision == .bf16Activations: roundToBF16(product.x, count: product.w.cols, into: scratch, path: path)
        case .bf16: moe_split_even_odd(product.x, n, scratch.assumingMemoryBound(to: Float.self))
        case .q8_0, .q4_0, .q5_0, .q5_1:
            (path == .scalar ? moe_quantize_q8_scalar : moe_quantize_q8)(product.x, n, scratch.assumingMemoryBound(to: moe_block_q8.self))
        case .q4_k, .q5_k, .q6_k:
            (path == .scalar ? moe_quantize_q8k_scalar : moe_quantize_q8k)(product.x, n, scratch.assumingMemoryBound(to: moe_block_q8k.self))
        }
    }

    /// y[r] = row r · x for r in `range`, by the kernel `path` picks for the product's format.
    @inline(__always)
    static func rows(_ product: MatvecProduct, input: UnsafeRawPointer, _ range: Range<Int>, path: KernelPath, precision: ComputePrecision) {
        let (w, x, y) = (product.w.base, product.x, product.y)
        let (rowBytes, n) = (product.w.rowBytes, Int32(product.w.cols))
        let (lower, upper) = (Int32(range.lowerBound), Int32(range.upperBound))
        let wide = path == .best && hasAVX512
        let vnni = path == .best && QuantizedKernels.hasVNNI
        let scalar = path == .scalar
        switch product.w.format {
        case .f32:
            let wideBody = farRows512 ? moe_matvec_f32_avx512_far : moe_matvec_f32_avx512
            (scalar ? moe_matvec_f32_scalar : wide ? wideBody : moe_matvec_f32)(w, rowBytes, x, n, y, lower, upper)
        case .f16:
            let wideBody = farRows512 ? moe_matvec_f16_avx512_far : moe_matvec_f16_avx512
            (scalar ? moe_matvec_f16_scalar : wide ? wideBody : moe_matvec_f16)(w, rowBytes, x, n, y, lower, upper)
        case .bf16 where precision == .bf16Activations:
            bf16DotRows(product, input: input, range, path: path)
        case .bf16:
            let split = input.assumingMemoryBound(to: Float.self)
            let wideBody = farRows512 ? moe_matvec_bf16_avx512_far : moe_matvec_bf16_avx512
            (scalar ? moe_matvec_bf16_scalar : wide ? wideBody : moe_matvec_bf16)(w, rowBytes, split, x, n, y, lower, upper)
        case .q8_0 where product.w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (vnni ? moe_matvec_q8_0_rows8_vnni : moe_matvec_q8_0_rows8_scalar)(w, rowBytes, xq, n, y, lower, upper)
        case .q8_0:
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            let vnniBody = QuantizedKernels.q8FarRows ? moe_matvec_q8_0_vnni_far : moe_matvec_q8_0_vnni   // far rows on AMD (see there)
            (scalar ? moe_matvec_q8_0_scalar : vnni ? vnniBody : moe_matvec_q8_0)(w, rowBytes, xq, n, y, lower, upper)
        case .q4_0 where product.w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (vnni ? moe_matvec_q4_0_rows8_vnni : moe_matvec_q4_0_rows8_scalar)(w, rowBytes, xq, n, y, lower, upper)
        case .q4_0:
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (scalar ? moe_matvec_q4_0_scalar : vnni ? moe_matvec_q4_0_vnni : moe_matvec_q4_0)(w, rowBytes, xq, n, y, lower, upper)
        case .q5_0:   // no VNNI body: the AVX2 one on every x86-64 machine
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (scalar ? moe_matvec_q5_0_scalar : moe_matvec_q5_0)(w, rowBytes, xq, n, y, lower, upper)
        case .q5_1:   // no VNNI body: the AVX2 one on every x86-64 machine
            let xq = input.assumingMemoryBound(to: moe_block_q8.self)
            (scalar ? moe_matvec_q5_1_scalar : moe_matvec_q5_1)(w, rowBytes, xq, n, y, lower, upper)
        case .q4_k where product.w.layout == .rows8:   // AVX2 and VNNI bodies
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (vnni ? moe_matvec_q4_k_rows8_vnni : scalar ? moe_matvec_q4_k_rows8_scalar : moe_matvec_q4_k_rows8_avx2)(w, rowBytes, xq, n, y, lower, upper)
        case .q4_k:
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (scalar ? moe_matvec_q4_k_scalar : vnni ? moe_matvec_q4_k_vnni : moe_matvec_q4_k)(w, rowBytes, xq, n, y, lower, upper)
        case .q5_k where product.w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (vnni ? moe_matvec_q5_k_rows8_vnni : moe_matvec_q5_k_rows8_scalar)(w, rowBytes, xq, n, y, lower, upper)
        case .q5_k:   // no VNNI body for row-major rows: the AVX2 one on every x86-64 machine
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (scalar ? moe_matvec_q5_k_scalar : moe_matvec_q5_k)(w, rowBytes, xq, n, y, lower, upper)
        case .q6_k where product.w.layout == .rows8:   // as Q4_K's rows8
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (vnni ? moe_matvec_q6_k_rows8_vnni : moe_matvec_q6_k_rows8_scalar)(w, rowBytes, xq, n, y, lower, upper)
        case .q6_k:
            let xq = input.assumingMemoryBound(to: moe_block_q8k.self)
            (scalar ? moe_matvec_q6_k_scalar : vnni ? moe_matvec_q6_k_vnni : moe_matvec_q6_k)(w, rowBytes, xq, n, y, lower, upper)
        }
    }

    /// y[r] = row r · x for r in 0..<count, f32 rows `rowBytes` apart, on the calling thread by
    /// the best body (attention's scores: a cache's rows are not a `WeightMatrix`).
    static func f32Rows(_ base: UnsafeRawPointer, rowBytes: Int, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>, count: Int) {
        (hasAVX512 ? moe_matvec_f32_avx512 : moe_matvec_f32)(base, rowBytes, x, Int32(n), y, 0, Int32(count))
    }

    /// Whether the AVX2 element bodies were compiled (reports say which path they measured).
    static var elementKernelsUseAVX2: Bool { moe_element_kernels_avx2() != 0 }
}
