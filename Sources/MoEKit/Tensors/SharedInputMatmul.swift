/// One product Y = X·Wᵀ of a group that shares its input X (`Kernels.matmuls`).
struct MatmulTarget {
    let w: WeightMatrix
    let y: UnsafeMutablePointer<Float>

    init(_ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>) {
        self.w = w
        self.y = y
    }
}

extension Kernels {
    /// Y_i = X·W_iᵀ for several matrices of one batch X (tokens × cols): an expert's gate and up
    /// products, attention's q/k/v. The rows of all of them are split across the cores as one
    /// parallel region, and a block format's X is quantised once, not once per matrix: on the
    /// 145 M Mixtral's prompt each expert's products are a millisecond or less, so every hand-off
    /// to the pool (and the idle tail while its last chunk finishes) and every serial quantisation
    /// weighs (BENCHMARKS.md "Two threads on a small model's prompt"). Each (row, token) result is
    /// the one `matmul` gives for that matrix (same kernels, same rows), so nothing moves.
    /// Falls back to one `matmul` per matrix when they differ in format or width, for one token,
    /// and for bf16 weights under bf16 activations.
    static func matmuls(_ x: UnsafePointer<Float>, tokens: Int, _ targets: [MatmulTarget], path: KernelPath = .best) {
        guard let first = targets.first else { return }
        let (format, cols) = (first.w.format, first.w.cols)
        let shared = tokens > 1 && targets.allSatisfy { $0.w.format == format && $0.w.cols == cols }
            && !(format == .bf16 && ComputePrecision.current == .bf16Activations)
        guard shared else {
            for target in targets { matmul(target.w, x, tokens: tokens, target.y) }
            return
        }
        let totalRows = targets.reduce(0) { $0 + $1.w.rows }
        let work = totalRows * cols * tokens
        guard format.elementsPerBlock > 1 else {
            Parallel.forChunks(totalRows, work: work) { range in
                forEachSegment(targets, range) { target, rows in elementRows(target.w, x, tokens: tokens, target.y, rows, path: path) }
            }
            return
        }
        let quantized = QuantizedMatmul.quantizedBatch(first.w, x, tokens: tokens, path: path)
        defer { quantized.deallocate() }
        let input = UnsafeRawPointer(quantized)
        Parallel.forChunks(totalRows, work: work) { range in
            forEachSegment(targets, range) { target, rows in QuantizedMatmul.rows(target.w, input, tokens: tokens, target.y, rows, path: path) }
        }
    }

    /// Calls `body(target, rows)` for each matrix's share of `range`, an interval of the targets'
    /// rows laid end to end.
    private static func forEachSegment(_ targets: [MatmulTarget], _ range: Range<Int>, _ body: (MatmulTarget, Range<Int>) -> Void) {
        var base = 0
        for target in targets {
            let lower = max(range.lowerBound, base), upper = min(range.upperBound, base + target.w.rows)
            if lower < upper { body(target, (lower - base)..<(upper - base)) }
            base += target.w.rows
            if base >= range.upperBound { return }
        }
    }
}
