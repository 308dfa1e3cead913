import CQuantKernels
import Foundation
import Testing
@testable import MoEKit

/// Q8_0, Q4_0, Q4_K, Q5_K and Q6_K matrices rewritten into eight-row groups (InterleavedRows.swift,
/// q80_rows8.h, q40_rows8.h, q4k_rows8.h (Q4_K and Q5_K), q6k_rows8.h): the layout
/// round-trips, the VNNI bodies equal their scalar twin bit for bit (and the naive product within
/// float tolerance), a prompt's batched products equal decoding's, and a model reads the same.
@Suite("Q8_0, Q4_0, Q4_K, Q5_K and Q6_K in interleaved eight-row groups (rows8)")
struct InterleavedRowsTests {
    static let formats: [WeightFormat] = [.q8_0, .q4_0, .q4_k, .q5_k, .q6_k]

    /// A random matrix of `format` and its rows8 copy (the first keeps the storage of both alive).
    static func pair(_ format: WeightFormat, rows: Int, cols: Int, seed: UInt64) -> (rowMajor: WeightMatrix, rows8: WeightMatrix, storage: ByteStorage) {
        let (w, storage) = QuantizationTests.randomMatrix(rows: rows, cols: cols, format: format, seed: seed)
        return (w, w.interleavedRows8(in: HugePageArena())!, storage)
    }

    static func randomInputs(_ count: Int, cols: Int, seed: UInt64) -> [[Float]] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { t in
            var v = random.normals(cols, scale: 1)
            v[(7 * t) % cols] = Float(t) - 9   // a spread of magnitudes inside a block
            return v
        }
    }

    @Test("packing then unpacking gives the row-major bytes back; element, copyRow and rowSlice read what the rows hold", arguments: formats)
    func layoutRoundTrip(format: WeightFormat) {
        let (w, r8, _) = Self.pair(format, rows: 24, cols: 512, seed: 1)
        #expect(r8.layout == .rows8 && r8.byteCount == w.byteCount)
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: w.byteCount + 8 * w.rowBytes, alignment: 64)
        defer { bytes.deallocate() }
        r8.copyRowMajorBytes(rows: 0..<24, into: bytes, groupScratch: bytes + w.byteCount)
        #expect(memcmp(bytes, w.base, w.byteCount) == 0)
        #expect(memcmp(r8.base, w.base, w.byteCount) != 0, "the copy is interleaved, not the same bytes")
        for (r, c) in [(0, 0), (5, 300), (23, 511), (8, 17), (15, 256)] { #expect(r8.element(r, c).bitPattern == w.element(r, c).bitPattern) }
        var expected = [Float](repeating: 0, count: 512), ours = expected
        for r in [0, 7, 8, 19] {
            w.copyRow(r, into: &expected)
            r8.copyRow(r, into: &ours)
            #expect(ours.map(\.bitPattern) == expected.map(\.bitPattern), "row \(r)")
        }
        // A slice on group boundaries stays interleaved (no copy); one inside a group comes out row-major.
        let aligned = r8.rowSlice(8..<24), cut = r8.rowSlice(3..<13)
        #expect(aligned.layout == .rows8 && aligned.base == r8.base + 8 * w.rowBytes)
        #expect(cut.layout == .rowMajor && memcmp(cut.base, w.rowPointer(3), 10 * w.rowBytes) == 0)
        var widened = [Float](repeating: 0, count: 5 * 512), reference = widened
        r8.widenRows(6..<11, into: &widened)
        w.widenRows(6..<11, into: &reference)
        #expect(widened.map(\.bitPattern) == reference.map(\.bitPattern))
    }

    @Test("the matvec on every path equals the scalar twin bit for bit, and the naive product on the row-major rows within 1e-5", arguments: formats)
    func matvec(format: WeightFormat) {
        // One group; several; rows × bytes past the batched kernel's 256 KiB tiles (136 × 2304).
        for (rows, cols) in [(8, 256), (16, 768), (40, 2048), (136, 4096)] {
            let (w, r8, _) = Self.pair(format, rows: rows, cols: cols, seed: UInt64(rows + cols))
            for x in Self.randomInputs(2, cols: cols, seed: UInt64(rows)) {
                var twin = [Float](repeating: .nan, count: rows)
                Kernels.matvec(r8, x, &twin, path: .scalar)
                for path in KernelPath.allCases {
                    var y = [Float](repeating: .nan, count: rows)
                    Kernels.matvec(r8, x, &y, path: path)
                    #expect(y.map(\.bitPattern) == twin.map(\.bitPattern), "\(format.name) \(rows)×\(cols) \(path)")
                }
                if rows * cols <= 40 * 2048 {
                    #expect(TestSupport.close(twin, NaiveKernels.quantizedMatvec(w, x), relative: 1e-5), "\(format.name) \(rows)×\(cols) vs naive")
                }
            }
        }
    }

    @Test("rows split at any boundary (inside a group too) give the rows the whole product gives", arguments: formats)
    func rowRanges(format: WeightFormat) {
        let (_, r8, _) = Self.pair(format, rows: 32, cols: 512, seed: 5)
        let x = Self.randomInputs(3, cols: 512, seed: 6)
        let whole = QuantizedMatmulTests.rows(r8, x, ranges: [0..<32])
        #expect(QuantizedMatmulTests.rows(r8, x, ranges: [0..<3, 3..<4, 4..<13, 13..<16, 16..<31, 31..<32]).map(\.bitPattern) == whole.map(\.bitPattern))
        // The matvec alone, on the body this CPU runs (Q4_K without VNNI: the AVX2 one), split the same way.
        let vnni = QuantizedKernels.hasVNNI
        var q8 = [moe_block_q8](repeating: moe_block_q8(), count: 16), q8k = [moe_block_q8k](repeating: moe_block_q8k(), count: 2)
        moe_quantize_q8(x[0], 512, &q8)
        moe_quantize_q8k(x[0], 512, &q8k)
        func rows(_ range: Range<Int>, _ y: inout [Float]) {
            let (lower, upper) = (Int32(range.lowerBound), Int32(range.upperBound))
            switch format {
            case .q8_0: (vnni ? moe_matvec_q8_0_rows8_vnni : moe_matvec_q8_0_rows8_scalar)(r8.base, r8.rowBytes, q8, 512, &y, lower, upper)
            case .q4_0: (vnni ? moe_matvec_q4_0_rows8_vnni : moe_matvec_q4_0_rows8_scalar)(r8.base, r8.rowBytes, q8, 512, &y, lower, upper)
            case .q4_k: (vnni ? moe_matvec_q4_k_rows8_vnni : moe_matvec_q4_k_rows8_avx2)(r8.base, r8.rowBytes, q8k, 512, &y, lower, upper)
            case .q5_k: (vnni ? moe_matvec_q5_k_rows8_vnni : moe_matvec_q5_k_rows8_scalar)(r8.base, r8.rowBytes, q8k, 512, &y, lower, upper)
            default: (vnni ? moe_matvec_q6_k_rows8_vnni : moe_matvec_q6_k_rows8_scalar)(r8.base, r8.rowBytes, q8k, 512, &y, lower, upper)
            }
        }
        var split = [Float](repeating: .nan, count: 32), one = split
        for range in [0..<5, 5..<6, 6..<21, 21..<32] { rows(range, &split) }
        rows(0..<32, &one)
        #expect(split.map(\.bitPattern) == one.map(\.bitPattern))
    }

    @Test("batched: every token count equals the matvec token by token bit for bit, on every path", arguments: formats)
    func batched(format: WeightFormat) {
        for (rows, cols) in [(16, 256), (136, 4096)] {
            let (_, r8, _) = Self.pair(format, rows: rows, cols: cols, seed: UInt64(3 * rows + cols))
            for tokens in rows > 100 ? [2, 9] : [1, 2, 3, 5, 7, 8, 9, 11, 17] {
                let x = Self.randomInputs(tokens, cols: cols, seed: UInt64(tokens))
                for path in KernelPath.allCases {
                    let ours = QuantizedMatmulTests.batched(r8, x, path: path)
                    #expect(ours.map(\.bitPattern) == QuantizedMatmulTests.tokenByToken(r8, x, path: path).map(\.bitPattern), "\(format.name) \(tokens)×\(rows)×\(cols) \(path)")
                }
            }
        }
    }

    /// A tiny random Mixtral written as a Q4_K (or `type`) GGUF by `moepp quantize`; its path.
    static func q4KMixtral(seed: UInt64, type: QuantizationType = .q4_k) throws -> String {
        let directory = TestSupport.randomCheckpoint(.mixtral, seed: seed) { config in
            config = RandomCheckpoint.tinyConfig(.mixtral, hidden: 256, layers: 2, ffnExperts: 4, intermediate: 512, heads: 4)
        }
        let path = TestSupport.temporaryDirectory("rows8-\(seed)") + "/\(type).gguf"
        try GGUFQuantizeTests.export(directory, type, to: path)
        return path
    }

    /// q4_k_m (q5_k_m): layer 1's ffn_down and attn_v and the output matrix are Q6_K, the rest Q4_K (Q5_K).
    @Test("a Q4_K, a Q4_K_M, a Q5_K_M, a Q4_0 and a Q8_0 GGUF Mixtral: interleaved at load where the CPU has VNNI, logits within one activation quantum (3e-2) of the row-major run, the same experts, prompt equals decode bit for bit", arguments: [QuantizationType.q4_k, .q4_k_m, .q5_k_m, .q4_0, .q8_0])
    func model(type: QuantizationType) throws {
        let path = try Self.q4KMixtral(seed: 3, type: type)
        let interleaved = try Transformer(directory: path, interleaving: .all)
        let rowMajor = try Transformer(directory: path, interleaving: .off)
        let expert = interleaved.blocks[0].moe!.ffnExperts[0]
        #expect(expert.gate.layout == (WeightMatrix.rows8Runs(expert.gate.format) ? .rows8 : .rowMajor))
        #expect(rowMajor.blocks[0].moe!.ffnExperts[0].gate.layout == .rowMajor)
        if type == .q5_k_m { #expect(expert.gate.format == .q5_k) }
        if type == .q4_k_m || type == .q5_k_m {
            let down = interleaved.blocks[1].moe!.ffnExperts[0].down, head = interleaved.lmHead
            #expect(down.format == .q6_k && down.layout == (WeightMatrix.rows8Runs(.q6_k) ? .rows8 : .rowMajor))
            // A vocabulary that is not whole groups of eight rows stays row-major.
            #expect(head.format == .q6_k && head.layout == (head.rows % 8 == 0 && WeightMatrix.rows8Runs(.q6_k) ? .rows8 : .rowMajor))
        }
        let tokens = [12, 200, 45, 3, 99, 150, 7, 7, 260, 31]
        let ours = try interleaved.forward(tokens, cache: interleaved.makeCache(), allLogits: true)
        let reference = try rowMajor.forward(tokens, cache: rowMajor.makeCache(), allLogits: true)
        // Not tighter: the layouts round differently in the last bits, and where an activation
        // element sits on a rounding boundary of its 8-bit re-quantisation for the next product,
        // that becomes one quantum (measured: a 1.6e-7 difference in a Q8_0 down projection's
        // input moved its output by 0.2 %, the logits by 1 %). The kernels themselves are held
        // to their twins bit for bit and to the naive product within 1e-5 above.
        #expect(GGUFQuantizeTests.relativeError(ours.logits, reference.logits) < 3e-2)
        #expect(ours.routing.map { $0.map { $0.chosen.map(\.index) } } == reference.routing.map { $0.map { $0.chosen.map(\.index) } })
        try QuantizedMatmulTests.expectPromptEqualsDecode(interleaved, tokens, "rows8 \(type) Mixtral")
    }

    @Test("the CLI: `logits` prints the interleaved model's numbers by default and the row-major one's with --row-major (or its old name --row-major-q4k)")
    func commandLine() throws {
        let path = try Self.q4KMixtral(seed: 3)
        let tokens = [5, 9, 200, 31]
        let arguments = ["logits", "--model", path, "--tokens", tokens.map(String.init).joined(separator: ","), "--all"]
        func logits(_ extra: [String]) throws -> [Float] {
            let run = try TestSupport.run(arguments + extra)
            #expect(run.status == 0, "\(run.stderr)")
            return try JSONDecoder().decode(BF16DotKernelTests.LogitsOutput.self, from: Data(run.stdout.utf8)).logits.flatMap { $0 }
        }
        func inProcess(_ interleaving: RowInterleaving) throws -> [Float] {
            let model = try Transformer(directory: path, interleaving: interleaving)
            return try model.forward(tokens, cache: model.makeCache(), allLogits: true).logits
        }
        let (all, off) = (try inProcess(.all), try inProcess(.off))
        // The layouts round differently in the last bits, which is what tells the runs apart.
        if WeightMatrix.rows8Runs(.q4_k) { #expect(all.map(\.bitPattern) != off.map(\.bitPattern)) }
        #expect(try logits([]).map(\.bitPattern) == all.map(\.bitPattern))
        #expect(try logits(["--row-major"]).map(\.bitPattern) == off.map(\.bitPattern))
        #expect(try logits(["--row-major-q4k"]).map(\.bitPattern) == off.map(\.bitPattern))
    }

    @Test("`moepp matvec-bench` measures both rows8 layouts beside row-major, prints no fraction of bandwidth above 1, and names a format it does not know")
    func matvecBench() throws {
        let run = try TestSupport.run(["matvec-bench", "--rows", "64", "--cols", "512", "--pool-mb", "1", "--rounds", "2",
                                       "--format", "q4_k", "--format", "q4_k-rows8", "--format", "q6_k", "--format", "q6_k-rows8"])
        #expect(run.status == 0, "\(run.stderr)")
        let rows = run.stdout.split(separator: "\n").filter { $0.contains(" | ") }.dropFirst().map { $0.components(separatedBy: " | ") }
        #expect(rows.map { $0[0] } == ["q4_k", "q4_k-rows8", "q6_k", "q6_k-rows8"])
        for row in rows {
            #expect((Double(row[4]) ?? 0) > 0, "\(row)")   // products/s: a scalar twin in a debug build reads 0.0 GB/s
            #expect(row[3] == "—" || (Double(row[3].split(separator: " ")[0]) ?? 2) <= 1, "\(row)")
        }
        let bad = try TestSupport.run(["matvec-bench", "--format", "q5_0-rows8"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown format q5_0-rows8"))
        // --kernels avx2: what a CPU without AVX-512 runs; a rows8 layout no AVX2 body reads is refused.
        let avx2 = try TestSupport.run(["matvec-bench", "--rows", "64", "--cols", "512", "--pool-mb", "1", "--rounds", "1",
                                        "--kernels", "avx2", "--format", "q4_k", "--format", "q4_k-rows8"])
        #expect(avx2.status == 0 && avx2.stdout.contains("avx2 kernels") && avx2.stdout.contains("\nq4_k-rows8 | "), "\(avx2.stderr)")
        let noBody = try TestSupport.run(["matvec-bench", "--kernels", "avx2", "--format", "q6_k-rows8"])
        #expect(noBody.status != 0 && noBody.stderr.contains("no AVX2 body reads that layout"), "\(noBody.stderr)")
    }

    @Test("`moepp inspect` counts the tensors per format and says which matrices the load interleaved, and that --row-major kept them as stored")
    func inspect() throws {
        let path = try Self.q4KMixtral(seed: 3, type: .q4_k_m)
        func lines(_ extra: [String]) throws -> [String: String] {
            let run = try TestSupport.run(["inspect", "--model", path] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            return Dictionary(run.stdout.split(separator: "\n").map { line in
                let key = line.prefix(12).trimmingCharacters(in: .whitespaces)
                return (key, String(line.dropFirst(12)))
            }, uniquingKeysWith: { first, _ in first })
        }
        let source = try ModelSource(path: path)
        let weights = try source.weights(config: try source.config())
        let q6k = weights.names.filter { weights.view($0)!.format == .q6_k }.count
        let byDefault = try lines([])
        #expect(byDefault["formats"]?.contains("\(q6k) q6_k") == true && byDefault["formats"]?.contains("q4_k") == true, "\(byDefault)")
        let model = try Transformer(directory: path, interleaving: .all)
        #expect(byDefault["layout"] == model.weights.layoutSummary)
        if WeightMatrix.rows8Runs(.q4_k) {   // every x86-64 CPU (AVX2 bodies for Q4_K; VNNI ones for Q6_K too)
            #expect(model.weights.interleavedMatrices > 0 && byDefault["layout"]?.hasPrefix("\(model.weights.interleavedMatrices) matrices") == true)
            #expect(byDefault["layout"]?.contains(QuantizedKernels.hasVNNI ? "AVX-512 VNNI kernels" : "AVX2 kernels") == true)
            #expect(try lines(["--row-major"])["layout"] == "as stored (interleaving turned off)")
            // MOEPP_CPU=avx2: what a CPU without AVX-512 does — Q4_K interleaved for the AVX2 body, Q6_K as stored.
            let avx2 = try TestSupport.run(["inspect", "--model", path], environment: ["MOEPP_CPU": "avx2"])
            let layout = avx2.stdout.split(separator: "\n").first { $0.hasPrefix("layout") }.map(String.init) ?? ""
            #expect(avx2.status == 0 && layout.contains("for the AVX2 kernels"), "\(avx2.stderr) \(layout)")
            // Fewer than with VNNI, which interleaves the Q6_K matrices too.
            #expect(Int(layout.dropFirst(12).prefix { $0.isNumber }) ?? 0 < model.weights.interleavedMatrices || !QuantizedKernels.hasVNNI, "\(layout)")
        } else {
            #expect(byDefault["layout"]?.hasPrefix("as stored (this CPU has no AVX-512 VNNI") == true)
        }
    }

    @Test("past the memory budget, matrices stay row-major: the model loads, mixed, and computes what the row-major one does")
    func budget() throws {
        guard WeightMatrix.rows8Runs(.q4_k) else { return }
        let path = try Self.q4KMixtral(seed: 3)
        let source = try ModelSource(path: path)
        let config = try source.config()
        let weights = try source.weights(config: config)
        weights.interleaving = .all
        // The first layer's attention (4 × 36 KiB) and a few experts fit; the last layer's do not.
        weights.interleavingBudget = 400_000
        let mixed = try Transformer(config: config, weights: weights)
        #expect(try #require(mixed.blocks[0].attention as? Attention).queryProjection.layout == .rows8)
        #expect(mixed.blocks[1].moe!.ffnExperts.last!.down.layout == .rowMajor)
        let tokens = [5, 9, 200, 31]
        let rowMajor = try Transformer(directory: path, interleaving: .off)
        let ours = try mixed.forward(tokens, cache: mixed.makeCache(), allLogits: true).logits
        #expect(GGUFQuantizeTests.relativeError(ours, try rowMajor.forward(tokens, cache: rowMajor.makeCache(), allLogits: true).logits) < 1e-4)
    }

    @Test("an expert cache reads routed experts from the file and interleaves them in its slots: the logits equal the fully interleaved model's bit for bit; a model with them interleaved at load says why it cannot offload")
    func expertCache() throws {
        // q4_k_m: the cache holds Q6_K experts (layer 1's down projections) beside Q4_K ones.
        let path = try Self.q4KMixtral(seed: 8, type: .q4_k_m)
        let model = try Transformer(directory: path, interleaving: .allButRoutedExperts)
        #expect(model.blocks[0].moe!.ffnExperts[0].gate.layout == .rowMajor)
        let attention = try #require(model.blocks[0].attention as? Attention)
        #expect(attention.queryProjection.layout == (WeightMatrix.rows8Runs(.q4_k) ? .rows8 : .rowMajor))
        // Three slots for 2 layers × 4 experts, top-2: misses, evictions and re-reads.
        let cache = try ExpertCacheSetup.install(on: model, directory: path, budget: .slots(3), policy: .lru, prefetch: false)
        let all = try Transformer(directory: path, interleaving: .all)
        let tokens = [12, 200, 45, 3, 99, 150, 7, 7, 260, 31]
        let cached = try model.forward(tokens, cache: model.makeCache(), allLogits: true).logits
        #expect(cached.map(\.bitPattern) == (try all.forward(tokens, cache: all.makeCache(), allLogits: true)).logits.map(\.bitPattern))
        #expect(cache.statistics.reduce(0) { $0 + $1.misses } > 4)
        guard WeightMatrix.rows8Runs(.q4_k) else { return }
        #expect {
            _ = try ExpertStore(model: all)
        } throws: { "\($0)".contains("interleaved into memory at load") }
    }
}
