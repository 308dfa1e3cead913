extension Kernels {
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
}
