/// One batch product Y = X·Wᵀ of a group (`Kernels.matmuls`): X is tokens×cols, Y tokens×rows.
public struct MatmulProduct {
    public let w: WeightMatrix
    public let x: UnsafePointer<Float>
    public let tokens: Int
    public let y: UnsafeMutablePointer<Float>

    public init(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>) {
        self.w = w
        self.x = x
        self.tokens = tokens
        self.y = y
    }
}

extension Kernels {
    /// Runs several batch products as one parallel region: in a prompt, the gate and up products
    /// of every expert of a layer (a fine-grained model sends a 128-token prompt to dozens of
    /// experts, ~16 tokens each) cost one hand-off to the pool instead of one per matrix, and
    /// the small ones no longer end a region alone. Work is split by cost, not by row: a product
    /// of `tokens` tokens counts each of its rows `tokens` times. Each row is computed by the same
    /// body as `matmul` would use, so the results are those of the products run one by one.
    /// Products `matmul` would give to BLAS (f32 with many tokens) or that are of a block format
    /// run one by one.
    public static func matmuls(_ products: [MatmulProduct]) {
        products.withUnsafeBufferPointer { matmuls($0, path: .best) }
    }

    static func matmuls(_ products: UnsafeBufferPointer<MatmulProduct>, path: KernelPath) {
        let blocked = products.allSatisfy {
            $0.w.format.elementsPerBlock == 1 && preferredElementMethod($0.w.format, tokens: $0.tokens) == .blocked
        }
        guard blocked else {
            for p in products { matmul(p.w, p.x, tokens: p.tokens, p.y) }
            return
        }
        let units = products.reduce(0) { $0 + $1.w.rows * $1.tokens }
        let work = products.reduce(0) { $0 + $1.w.rows * $1.w.cols * $1.tokens }
        // Row r of a product spans units [first + r·tokens, first + (r+1)·tokens) and belongs to
        // the chunk holding its first unit: rows ⌈(lower − first)/tokens⌉ ..< ⌈(upper − first)/tokens⌉.
        Parallel.forFineChunks(units, work: work) { range in
            var first = 0
            for product in products {
                let span = product.w.rows * product.tokens
                defer { first += span }
                if span == 0 || first + span <= range.lowerBound { continue }
                if first >= range.upperBound { break }
                let lower = max(0, range.lowerBound - first), upper = min(span, range.upperBound - first)
                let rows = (lower + product.tokens - 1) / product.tokens ..< (upper + product.tokens - 1) / product.tokens
                if !rows.isEmpty { elementRows(product.w, product.x, tokens: product.tokens, product.y, rows, path: path) }
            }
        }
    }
}
