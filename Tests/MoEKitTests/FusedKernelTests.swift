import CQuantKernels
import Foundation
import Testing
@testable import MoEKit

/// The hot path's grouped and pooled kernels against their twins: each C body (AVX-512 where
/// the CPU has it, AVX2, scalar) against the naive product; a group of products in one region
/// against each product alone; the decode step's fused expert and q/k/v products against the
/// unfused ones; prefill attention split by cost against decoding token by token.
@Suite("Fused and grouped kernels against their twins")
struct FusedKernelTests {
    static func matrix(rows: Int, cols: Int, format: WeightFormat, seed: UInt64) -> WeightMatrix {
        var random = SeededRandom(seed: seed)
        let bytes = encodeFloats(random.normals(rows * cols, scale: 1), as: format)
        let storage = ByteStorage(count: bytes.count)
        storage.pointer.copyMemory(from: bytes, byteCount: bytes.count)
        return WeightMatrix(rows: rows, cols: cols, format: format, base: UnsafeRawPointer(storage.pointer), owner: storage)
    }

    @Test("element matvec on every body (AVX-512 where present, AVX2, scalar) equals the naive product",
          arguments: WeightFormat.elementFormats)
    func elementBodies(format: WeightFormat) {
        #if arch(x86_64)
        #expect(Kernels.elementKernelsUseAVX2, "Package.swift compiles CQuantKernels for AVX2 on x86-64")
        #endif
        print("element kernels: AVX-512 \(Kernels.hasAVX512 ? "present, tested as the best path" : "absent")")
        for (rows, cols) in [(1, 1), (3, 31), (7, 33), (64, 64), (5, 96), (3, 223), (6, 224), (300, 257), (513, 129), (40, 4096)] {
            let w = Self.matrix(rows: rows, cols: cols, format: format, seed: UInt64(rows * 7 + cols))
            var random = SeededRandom(seed: UInt64(cols))
            let x = random.normals(cols, scale: 1)
            let reference = NaiveKernels.matvec(w, x)
            for path in KernelPath.allCases {
                var y = [Float](repeating: .nan, count: rows)
                Kernels.matvec(w, x, &y, path: path)
                #expect(TestSupport.close(y, reference, relative: 1e-5), "\(format.name) \(rows)×\(cols) \(path)")
            }
        }
    }

    @Test("the bf16 AVX-512 body gives the AVX2 body's bits (same lanes, same order; decode output unchanged by it)")
    func bf16WideEqualsAVX2() {
        guard Kernels.hasAVX512 else { print("bf16 AVX-512 body: no AVX-512 here, not compared"); return }
        for (rows, cols) in [(1, 1), (3, 31), (7, 33), (5, 96), (3, 223), (6, 224), (300, 257), (40, 4096)] {
            let w = Self.matrix(rows: rows, cols: cols, format: .bf16, seed: UInt64(rows * 5 + cols))
            var random = SeededRandom(seed: UInt64(cols + 1))
            let x = random.normals(cols, scale: 1)
            var wide = [Float](repeating: .nan, count: rows), narrow = [Float](repeating: .nan, count: rows)
            Kernels.matvec(w, x, &wide, path: .best)
            Kernels.matvec(w, x, &narrow, path: .avx2)
            #expect(wide.map(\.bitPattern) == narrow.map(\.bitPattern), "\(rows)×\(cols)")
        }
    }

    @Test("the f32 AVX-512 body's four-rows-per-pass blocks give each row's one-row bits, any row range")
    func f32FourRowsEqualOneRow() {
        guard Kernels.hasAVX512 else { print("f32 AVX-512 body: no AVX-512 here, not compared"); return }
        for (rows, cols) in [(1, 1), (4, 1), (5, 31), (7, 33), (8, 64), (9, 96), (6, 223), (13, 257), (11, 2048)] {
            let w = Self.matrix(rows: rows, cols: cols, format: .f32, seed: UInt64(rows * 11 + cols))
            var random = SeededRandom(seed: UInt64(cols + 3))
            let x = random.normals(cols, scale: 1)
            var oneByOne = [Float](repeating: .nan, count: rows)
            for r in 0..<rows { moe_matvec_f32_avx512(w.base, w.rowBytes, x, Int32(cols), &oneByOne, Int32(r), Int32(r + 1)) }
            // Ranges starting at every offset 0–3, so each row falls in a four-row block and in the remainder.
            for begin in 0..<min(4, rows) {
                var y = oneByOne
                for r in begin..<rows { y[r] = .nan }
                moe_matvec_f32_avx512(w.base, w.rowBytes, x, Int32(cols), &y, Int32(begin), Int32(rows))
                #expect(y.map(\.bitPattern) == oneByOne.map(\.bitPattern), "\(rows)×\(cols) from row \(begin)")
            }
        }
    }

    /// `run(&y, begin, end)` over ranges from every start 0–4 to the end and to one row short of it
    /// (so each row falls in each of a far-row body's four parts and in its remainder somewhere),
    /// the rows outside each range left as `reference` has them: every range must give its bits.
    static func expectEveryRange(_ reference: [Float], _ label: String, sourceLocation: SourceLocation = #_sourceLocation,
                                 _ run: (inout [Float], Int, Int) -> Void) {
        let rows = reference.count
        for begin in 0..<min(5, rows) {
            for end in Set([rows, max(begin + 1, rows - 1)]) {
                var y = reference
                for r in begin..<end { y[r] = .nan }
                run(&y, begin, end)
                #expect(y.map(\.bitPattern) == reference.map(\.bitPattern), "\(label) rows \(begin)..<\(end)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("the AVX-512 far-row f32, f16 and bf16 bodies (AMD's) give the AVX-512 bodies' bits, any row range",
          .enabled(if: Kernels.hasAVX512), arguments: [WeightFormat.f32, .f16, .bf16])
    func avx512FarRowsEqualOneRow(format: WeightFormat) {
        // The f32 reference is the adjacent-row body over the whole range (its rows have f32_row_avx512's bits).
        for (rows, cols) in [(1, 32), (4, 33), (5, 31), (9, 96), (13, 257), (17, 224), (11, 2048)] {
            let w = Self.matrix(rows: rows, cols: cols, format: format, seed: UInt64(rows * 17 + cols))
            var random = SeededRandom(seed: UInt64(cols + 11))
            let x = random.normals(cols, scale: 1)
            var split = [Float](repeating: 0, count: cols)
            moe_split_even_odd(x, Int32(cols), &split)
            let n = Int32(cols)
            var oneRow = [Float](repeating: .nan, count: rows)
            switch format {
            case .f32: moe_matvec_f32_avx512(w.base, w.rowBytes, x, n, &oneRow, 0, Int32(rows))
            case .f16: moe_matvec_f16_avx512(w.base, w.rowBytes, x, n, &oneRow, 0, Int32(rows))
            default: moe_matvec_bf16_avx512(w.base, w.rowBytes, split, x, n, &oneRow, 0, Int32(rows))
            }
            Self.expectEveryRange(oneRow, "\(format.name) \(rows)×\(cols)") { y, begin, end in
                switch format {
                case .f32: moe_matvec_f32_avx512_far(w.base, w.rowBytes, x, n, &y, Int32(begin), Int32(end))
                case .f16: moe_matvec_f16_avx512_far(w.base, w.rowBytes, x, n, &y, Int32(begin), Int32(end))
                default: moe_matvec_bf16_avx512_far(w.base, w.rowBytes, split, x, n, &y, Int32(begin), Int32(end))
                }
            }
        }
    }

    @Test("the AVX2 bodies' far-apart row groups give each row's one-row bits, any row range (f32, f16, bf16, Q8_0, Q4_0, Q5_0)",
          arguments: [WeightFormat.f32, .f16, .bf16, .q8_0, .q4_0, .q5_0])
    func avx2RowGroupsEqualOneRow(format: WeightFormat) {
        let quantised = format.elementsPerBlock > 1
        for (rows, cols) in [(1, 32), (4, 33), (5, 31), (8, 64), (9, 96), (13, 257), (17, 224), (11, 2048)] {
            let cols = quantised ? (cols + 31) / 32 * 32 : cols
            let w = Self.matrix(rows: rows, cols: cols, format: format, seed: UInt64(rows * 13 + cols))
            var random = SeededRandom(seed: UInt64(cols + 7))
            let x = random.normals(cols, scale: 1)
            var split = [Float](repeating: 0, count: cols)
            moe_split_even_odd(x, Int32(cols), &split)
            var blocks = [moe_block_q8](repeating: moe_block_q8(), count: quantised ? cols / 32 : 0)
            if quantised { moe_quantize_q8(x, Int32(cols), &blocks) }
            func run(_ y: inout [Float], _ begin: Int, _ end: Int) {
                let (b, e, n) = (Int32(begin), Int32(end), Int32(cols))
                switch format {
                case .f32: moe_matvec_f32(w.base, w.rowBytes, x, n, &y, b, e)
                case .f16: moe_matvec_f16(w.base, w.rowBytes, x, n, &y, b, e)
                case .bf16: moe_matvec_bf16(w.base, w.rowBytes, split, x, n, &y, b, e)
                case .q8_0: moe_matvec_q8_0(w.base, w.rowBytes, blocks, n, &y, b, e)
                case .q4_0: moe_matvec_q4_0(w.base, w.rowBytes, blocks, n, &y, b, e)
                default: moe_matvec_q5_0(w.base, w.rowBytes, blocks, n, &y, b, e)
                }
            }
            var oneByOne = [Float](repeating: .nan, count: rows)
            for r in 0..<rows { run(&oneByOne, r, r + 1) }
            Self.expectEveryRange(oneByOne, "\(format.name) \(rows)×\(cols)", run)
        }
    }

    @Test("a group of products run as one region equals each product run alone, bit for bit, on every body")
    func groupEqualsSeparate() {
        let shapes: [(WeightFormat, Int, Int)] = [(.f32, 300, 257), (.bf16, 513, 129), (.f16, 64, 64), (.q8_0, 255, 64),
                                                  (.q4_k, 17, 256), (.bf16, 1, 33), (.bf16, 2048, 256), (.q4_0, 600, 128)]
        let matrices = shapes.enumerated().map { Self.matrix(rows: $1.1, cols: $1.2, format: $1.0, seed: UInt64($0)) }
        var random = SeededRandom(seed: 5)
        let inputs = matrices.map { random.normals($0.cols, scale: 1) }
        for path in KernelPath.allCases {
            let alone: [[Float]] = zip(matrices, inputs).map { w, x in
                var y = [Float](repeating: .nan, count: w.rows)
                Kernels.matvec(w, x, &y, path: path)
                return y
            }
            var outputs = matrices.map { [Float](repeating: .nan, count: $0.rows) }
            let x = inputs.map { FloatStorage($0) }, y = matrices.map { FloatStorage(zeros: $0.rows) }
            let products = matrices.indices.map { MatvecProduct(matrices[$0], x[$0].pointer, y[$0].pointer) }
            products.withUnsafeBufferPointer { Kernels.matvecs($0, path: path) }
            for i in outputs.indices { outputs[i] = Array(UnsafeBufferPointer(start: y[i].pointer, count: y[i].count)) }
            #expect(outputs.map { $0.map(\.bitPattern) } == alone.map { $0.map(\.bitPattern) }, "\(path)")
        }
    }

    @Test("products reading one input share its prepared form (Q8_0 with Q4_0, Q4_K with Q6_K, bf16) and still equal each alone, bit for bit")
    func sharedInputEqualsSeparate() {
        // Two inputs of one length interleaved, so sharing must match by vector, not by position.
        // Shared here: 1 with 0 (Q4_0 after Q8_0), 4 with 3 (Q6_K after Q4_K, Q4_K_M's q/k/v),
        // 6 with 5 (bf16), 9 with 2 (Q8_0, not the earlier Q8_0 of input a); 7 (Q4_K of b) shares nothing.
        let shapes: [(WeightFormat, Int, Int)] = [(.q8_0, 37, 512), (.q4_0, 5, 512), (.q8_0, 64, 512), (.q4_k, 9, 512),
                                                  (.q6_k, 3, 512), (.bf16, 11, 512), (.bf16, 7, 512), (.q4_k, 4, 512),
                                                  (.q8_0, 19, 256), (.q8_0, 6, 512)]
        let matrices = shapes.enumerated().map { Self.matrix(rows: $1.1, cols: $1.2, format: $1.0, seed: UInt64(40 + $0)) }
        var random = SeededRandom(seed: 6)
        let a = FloatStorage(random.normals(512, scale: 1)), b = FloatStorage(random.normals(512, scale: 2))
        let c = FloatStorage(random.normals(256, scale: 1))
        let sources = [a, a, b, a, a, b, b, b, c, b]
        let sink = FloatStorage(zeros: 64)
        for path in KernelPath.allCases {
            let alone: [[Float]] = matrices.indices.map { i in
                var y = [Float](repeating: .nan, count: matrices[i].rows)
                Kernels.matvec(matrices[i], Array(UnsafeBufferPointer(start: sources[i].pointer, count: sources[i].count)), &y, path: path)
                return y
            }
            let y = matrices.map { FloatStorage(zeros: $0.rows) }
            let products = matrices.indices.map { MatvecProduct(matrices[$0], sources[$0].pointer, y[$0].pointer) }
            products.withUnsafeBufferPointer { Kernels.matvecs($0, path: path) }
            let outputs = y.map { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) }
            #expect(outputs.map { $0.map(\.bitPattern) } == alone.map { $0.map(\.bitPattern) }, "\(path)")
        }
        #expect(Kernels.sharesPreparedInput(MatvecProduct(matrices[0], a.pointer, sink.pointer), MatvecProduct(matrices[1], a.pointer, sink.pointer)))
        #expect(!Kernels.sharesPreparedInput(MatvecProduct(matrices[0], a.pointer, sink.pointer), MatvecProduct(matrices[2], b.pointer, sink.pointer)))
        #expect(!Kernels.sharesPreparedInput(MatvecProduct(matrices[0], a.pointer, sink.pointer), MatvecProduct(matrices[3], a.pointer, sink.pointer)))
        #expect(Kernels.sharesPreparedInput(MatvecProduct(matrices[3], a.pointer, sink.pointer), MatvecProduct(matrices[4], a.pointer, sink.pointer)))
        #expect(Kernels.sharesPreparedInput(MatvecProduct(matrices[5], b.pointer, sink.pointer), MatvecProduct(matrices[6], b.pointer, sink.pointer)))
        #expect(!Kernels.sharesPreparedInput(MatvecProduct(matrices[3], a.pointer, sink.pointer), MatvecProduct(matrices[7], b.pointer, sink.pointer)))
    }

    @Test("a decode step runs every chosen expert in two regions and gets the one-by-one result bit for bit")
    func expertsTogether() {
        let d = 256, inner = 384
        var config = ModelConfig(family: .moepp, vocabSize: 10, hiddenSize: d, intermediateSize: inner, numLayers: 1,
                                 numHeads: 4, numKeyValueHeads: 4, numExperts: 8)
        config.multiplyInputByTopK = true
        var random = SeededRandom(seed: 21)
        let x = random.normals(d, scale: 1)
        let norm: Float = x.reduce(0) { $0 + $1 * $1 }
        // Router rows that give FFN experts 1 and 3 logits 5 and 4, every other expert 0.
        var routerValues = [Float](repeating: 0, count: 8 * d)
        for c in 0..<d {
            let unit: Float = x[c] / norm
            routerValues[d + c] = 5 * unit
            routerValues[3 * d + c] = 4 * unit
        }
        var experts: [FFNExpert] = []
        for e in 0..<config.numFFNExperts {
            let seed = UInt64(3 * e)
            let gate = Self.matrix(rows: inner, cols: d, format: .bf16, seed: seed)
            let up = Self.matrix(rows: inner, cols: d, format: .bf16, seed: seed + 1)
            let down = Self.matrix(rows: d, cols: inner, format: .bf16, seed: seed + 2)
            experts.append(FFNExpert(gate: gate, up: up, down: down))
        }
        var constants: [ConstantExpert] = []
        for _ in 0..<2 { constants.append(ConstantExpert(mixing: random.normals(2 * d, scale: 0.1), vector: random.normals(d, scale: 1))) }
        let router = Router(projection: .linear(WeightMatrix.owning(rows: 8, cols: d, values: routerValues)), residual: nil)
        let layer = MoELayer(config: config, layerIndex: 0, router: router, ffnExperts: experts, constantExperts: constants)
        let mapped = experts
        var together = layer.route(x, tokens: 1, previousLogits: nil, controls: RoutingControls())
        var oneByOne = together
        #expect(together.ffnExpertsNeeded == [1, 3])
        try? layer.runExperts(&together, input: x, tokens: 1, access: MoELayer.ExpertAccess.mapped(mapped))
        let single = MoELayer.ExpertAccess(acquire: { (e: Int) -> FFNExpert in mapped[e] }, release: { (_: Int) in })
        try? layer.runExperts(&oneByOne, input: x, tokens: 1, access: single)
        let (a, b): ([Float], [Float]) = (together.hidden, oneByOne.hidden)
        #expect(a.map { $0.bitPattern } == b.map { $0.bitPattern })
        #expect(a.contains { $0 != 0 })
    }

    @Test("prefill attention (q/k/v per token fused when decoding, heads split by cost) equals decoding token by token")
    func attentionPrefillEqualsDecode() {
        let (d, heads, tokens) = (256, 4, 40)
        var config = ModelConfig(family: .mixtral, vocabSize: 10, hiddenSize: d, intermediateSize: 8, numLayers: 1,
                                 numHeads: heads, numKeyValueHeads: 2, numExperts: 2)
        config.maxPositionEmbeddings = 64
        let attention = Attention(config: config,
                                  query: Self.matrix(rows: config.queryDim, cols: d, format: .f16, seed: 1),
                                  key: Self.matrix(rows: config.keyValueDim, cols: d, format: .f16, seed: 2),
                                  value: Self.matrix(rows: config.keyValueDim, cols: d, format: .f16, seed: 3),
                                  output: Self.matrix(rows: d, cols: config.queryDim, format: .f16, seed: 4),
                                  queryNorm: nil, keyNorm: nil)
        var random = SeededRandom(seed: 8)
        let x = random.normals(tokens * d, scale: 0.1)
        let batchCache = KVCache(layers: 1, width: config.keyValueDim, maximumLength: 64)
        _ = batchCache.reserve(tokens)
        let batch = attention.forward(x, tokens: tokens, start: 0, layer: 0, cache: batchCache)
        let stepCache = KVCache(layers: 1, width: config.keyValueDim, maximumLength: 64)
        _ = stepCache.reserve(tokens)
        for t in 0..<tokens {
            let step = attention.forward(Array(x[t * d..<(t + 1) * d]), tokens: 1, start: t, layer: 0, cache: stepCache)
            #expect(TestSupport.close(step, Array(batch[t * d..<(t + 1) * d]), relative: 1e-4), "token \(t)")
        }
    }

    /// The sampler as it was: a full sort of the vocabulary (stable: ties keep id order).
    struct SortingSampler {
        var random: SeededRandom

        mutating func sample(_ logits: [Float], _ settings: SamplingSettings) -> Int {
            var order = Array(0..<logits.count)
            order.sort { logits[$0] > logits[$1] }
            if settings.topK > 0 { order = Array(order.prefix(settings.topK)) }
            let top = logits[order[0]]
            var probabilities = order.map { expf((logits[$0] - top) / settings.temperature) }
            let total = probabilities.reduce(0, +)
            probabilities = probabilities.map { $0 / total }
            if settings.topP < 1 {
                var cumulative: Float = 0
                var keep = 0
                while keep < probabilities.count && cumulative < settings.topP { cumulative += probabilities[keep]; keep += 1 }
                order = Array(order.prefix(max(1, keep)))
                probabilities = Array(probabilities.prefix(max(1, keep)))
            }
            let draw = random.uniform() * probabilities.reduce(0, +)
            var cumulative: Float = 0
            for (slot, p) in probabilities.enumerated() {
                cumulative += p
                if draw < cumulative { return order[slot] }
            }
            return order[probabilities.count - 1]
        }
    }

    @Test("ranked candidates: top(k) and the popped heap give a stable descending sort's order, in reused arrays")
    func rankedCandidatesOrder() {
        var random = SeededRandom(seed: 78)
        var ids: [Int] = [], heap: [Int] = []
        for round in 0..<20 {
            let logits = random.normals(500, scale: 2).map { ($0 * 2).rounded() / 2 }   // many ties
            let sorted = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
            let ranked = RankedCandidates(logits: logits[...])
            let k = [1, 7, 40, 500][round % 4]
            ranked.top(k, into: &ids)
            #expect(ids == Array(sorted.prefix(k)), "top(\(k)), round \(round)")
            ranked.heapOfAll(into: &heap)
            var size = heap.count, popped: [Int] = []
            while let id = ranked.popBest(&heap, size: &size) { popped.append(id) }
            #expect(popped == sorted, "heap order, round \(round)")
        }
    }

    @Test("top-k and top-p by partial selection draw the same tokens as a full sort (ties included)")
    func samplerEqualsSort() {
        var random = SeededRandom(seed: 77)
        for settings in [SamplingSettings(temperature: 0.8, topK: 1), SamplingSettings(temperature: 0.8, topK: 40),
                         SamplingSettings(temperature: 1.3, topK: 7, topP: 0.9), SamplingSettings(temperature: 0.7, topP: 0.95),
                         SamplingSettings(temperature: 2, topP: 0.5), SamplingSettings(temperature: 1, topK: 5000)] {
            var ours = Sampler(seed: 9), twin = SortingSampler(random: SeededRandom(seed: 9))
            for round in 0..<40 {
                // Rounded to a coarse grid so that many logits tie.
                let logits = random.normals(3000, scale: 3).map { ($0 * 4).rounded() / 4 }
                #expect(ours.sample(logits[...], settings) == twin.sample(logits, settings), "\(settings) round \(round)")
            }
        }
    }
}
