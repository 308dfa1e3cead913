import Testing
@testable import MoEKit

/// The blocked batch kernels (element_gemm.h) on every body — AVX-512 where the CPU has it,
/// AVX2, scalar — against the naive product, on token counts around the register block (4×4
/// AVX-512, 4×3 AVX2) and rows/columns that are not multiples of the vector width.
@Suite("Blocked batch kernels for f32/f16/bf16 against the naive product")
struct ElementMatmulTests {
    @Test("every body equals NaiveKernels.matmul on awkward sizes", arguments: WeightFormat.elementFormats)
    func bodies(format: WeightFormat) {
        for (rows, cols) in [(1, 1), (5, 15), (7, 33), (37, 100), (130, 257), (64, 2048)] {
            let w = FusedKernelTests.matrix(rows: rows, cols: cols, format: format, seed: UInt64(rows * 31 + cols))
            for tokens in [1, 2, 3, 4, 9, 17, 33] {
                var random = SeededRandom(seed: UInt64(tokens * 1000 + cols))
                let x = (0..<tokens).map { _ in random.normals(cols, scale: 1) }
                let reference = NaiveKernels.matmul(w, x).flatMap { $0 }
                let flat = x.flatMap { $0 }
                for path in KernelPath.allCases {
                    var y = [Float](repeating: .nan, count: tokens * rows)
                    Kernels.elementMatmul(w, flat, tokens: tokens, &y, method: .blocked, path: path)
                    #expect(TestSupport.close(y, reference, relative: 1e-5), "\(format.name) \(tokens)×\(rows)×\(cols) \(path)")
                }
            }
        }
    }

    @Test("a body called on row slices fills exactly those rows (the pool splits rows at any boundary)")
    func rowSlices() {
        let (rows, cols, tokens) = (23, 40, 6)
        let w = FusedKernelTests.matrix(rows: rows, cols: cols, format: .bf16, seed: 2)
        var random = SeededRandom(seed: 8)
        let x = random.normals(tokens * cols, scale: 1)
        var whole = [Float](repeating: .nan, count: tokens * rows)
        Kernels.elementRows(w, x, tokens: tokens, &whole, 0..<rows, path: .best)
        var pieces = [Float](repeating: .nan, count: tokens * rows)
        for range in [0..<3, 3..<4, 4..<13, 13..<23] { Kernels.elementRows(w, x, tokens: tokens, &pieces, range, path: .best) }
        #expect(pieces.map(\.bitPattern) == whole.map(\.bitPattern))
    }
}

@Suite("A prompt's expert products grouped into regions against them one by one")
struct GroupedMatmulTests {
    @Test("a group of batch products equals each product alone, bit for bit, on every body; BLAS-bound ones too")
    func groupEqualsSeparate() {
        let shapes: [(WeightFormat, Int, Int, Int)] = [(.bf16, 130, 257, 3), (.f16, 64, 100, 17), (.f32, 7, 33, 2),
                                                       (.bf16, 1, 64, 9), (.f32, 40, 64, 130), (.bf16, 300, 48, 1)]
        let matrices = shapes.enumerated().map { FusedKernelTests.matrix(rows: $1.1, cols: $1.2, format: $1.0, seed: UInt64($0)) }
        var random = SeededRandom(seed: 6)
        let inputs = zip(matrices, shapes).map { FloatStorage(random.normals($0.cols * $1.3, scale: 1)) }
        for path in KernelPath.allCases {
            for group in [Array(0..<4), Array(matrices.indices)] {   // all blocked; one for BLAS (f32, 130 tokens) among them
                let alone: [[Float]] = group.map { i in
                    var y = [Float](repeating: .nan, count: matrices[i].rows * shapes[i].3)
                    if group.count == matrices.count {
                        Kernels.matmul(matrices[i], inputs[i].pointer, tokens: shapes[i].3, &y)
                    } else {
                        Kernels.elementMatmul(matrices[i], inputs[i].pointer, tokens: shapes[i].3, &y, method: .blocked, path: path)
                    }
                    return y
                }
                let outputs = group.map { FloatStorage(zeros: matrices[$0].rows * shapes[$0].3) }
                let products = zip(group, outputs).map { MatmulProduct(matrices[$0], inputs[$0].pointer, tokens: shapes[$0].3, $1.pointer) }
                products.withUnsafeBufferPointer { Kernels.matmuls($0, path: group.count == matrices.count ? .best : path) }
                let grouped = outputs.map { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) }
                #expect(grouped.map { $0.map(\.bitPattern) } == alone.map { $0.map(\.bitPattern) }, "\(path) \(group)")
            }
        }
    }

    @Test("a prompt through a 16-expert top-4 layer: experts batched in two regions equal them one by one", arguments: [WeightFormat.bf16, .f32])
    func expertBatches(format: WeightFormat) throws {
        let (d, inner, tokens, experts) = (64, 96, 37, 16)
        var config = ModelConfig(family: .mixtral, vocabSize: 10, hiddenSize: d, intermediateSize: inner, numLayers: 1,
                                 numHeads: 4, numKeyValueHeads: 4, numExperts: experts)
        config.topK = 4
        var random = SeededRandom(seed: 31)
        var ffn: [FFNExpert] = []
        for e in 0..<experts {
            let seed = UInt64(3 * e)
            let gate = FusedKernelTests.matrix(rows: inner, cols: d, format: format, seed: seed)
            let up = FusedKernelTests.matrix(rows: inner, cols: d, format: format, seed: seed + 1)
            let down = FusedKernelTests.matrix(rows: d, cols: inner, format: format, seed: seed + 2)
            ffn.append(FFNExpert(gate: gate, up: up, down: down))
        }
        let routerValues: [Float] = random.normals(experts * d, scale: 1)
        let router = Router(projection: .linear(WeightMatrix.owning(rows: experts, cols: d, values: routerValues)), residual: nil)
        let layer = MoELayer(config: config, layerIndex: 0, router: router, ffnExperts: ffn, constantExperts: [])
        let x: [Float] = random.normals(tokens * d, scale: 1)
        var batched = layer.route(x, tokens: tokens, previousLogits: nil, controls: RoutingControls())
        var oneByOne = batched
        #expect(batched.ffnExpertsNeeded.count > 8)
        try layer.runExperts(&batched, input: x, tokens: tokens, access: MoELayer.ExpertAccess.mapped(ffn))
        let mapped = ffn
        let single = MoELayer.ExpertAccess(acquire: { (e: Int) -> FFNExpert in mapped[e] }, release: { (_: Int) in })
        try layer.runExperts(&oneByOne, input: x, tokens: tokens, access: single)
        // Equal within summation order only: an expert given a single token takes the blocked
        // body here, the matrix–vector one when run alone.
        #expect(TestSupport.close(batched.hidden, oneByOne.hidden, relative: 1e-5))
        #expect(batched.hidden.contains { $0 != 0 })
    }
}
