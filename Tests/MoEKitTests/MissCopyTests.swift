import Foundation
import Testing
@testable import MoEKit

@Suite("HOBBIT-style mixed-precision cache misses (--miss-format)")
struct MissCopyTests {
    let cacheTests = ExpertCacheTests()

    /// A 3-layer MoE++ with 6 FFN experts per layer whose rows are whole 32-element blocks.
    func checkpoint() -> String {
        TestSupport.randomCheckpoint(.moepp, seed: 21, dtype: .f16) { config in
            config = RandomCheckpoint.tinyConfig(.moepp, hidden: 32, layers: 3, ffnExperts: 6, intermediate: 64)
        }
    }

    /// `checkpoint()` with sensitivities 3, 1, 2: the median is 2, so only layer 1 may serve a
    /// miss from a copy.
    func calibratedCheckpoint() throws -> String {
        let directory = checkpoint()
        let layers = [3.0, 1.0, 2.0].map { Calibration.Layer(sensitivity: $0, expertDifference: 1, tokens: 10) }
        try Calibrator.save(Calibration(layers: layers, calibrationTokens: 10, defaultEpsilon: 0.01), directory: directory)
        return directory
    }

    @Test("layers strictly below the median sensitivity are allowed")
    func rule() {
        #expect(MissCopies.allowedLayers(sensitivities: [3, 1, 2]) == [1])
        #expect(MissCopies.allowedLayers(sensitivities: [4, 1, 3, 2]) == [1, 3])
        #expect(MissCopies.allowedLayers(sensitivities: [5, 5]).isEmpty)
    }

    @Test("a copy serves only misses in allowed layers; the full expert loads behind it", arguments: [WeightFormat.q8_0, .q4_0])
    func onlyOnAllowedMisses(format: WeightFormat) throws {
        let directory = try calibratedCheckpoint()
        let model = try Transformer(directory: directory)
        let cache = try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(4), policy: .lru, prefetch: false, missFormat: format)
        let copies = try #require(cache.missCopies)
        #expect(copies.layers == [1])
        let expertBytes = model.blocks[1].moe!.ffnExperts.reduce(0) { $0 + $1.gate.quantized(to: format).byteCount * 3 }
        #expect(copies.byteCount == expertBytes, "gate, up and down are the same size here")

        let miss = try #require(cache.lease(layer: 1, experts: [2]))
        #expect(try miss.expert(2).gate.base == copies.expert(layer: 1, expert: 2)!.gate.base)
        miss.release()
        cache.waitForPrefetches()
        let hit = try #require(cache.lease(layer: 1, experts: [2]))
        #expect(try hit.expert(2).gate.format == model.blocks[1].moe!.ffnExperts[2].gate.format, "loaded in the background: now a full-precision hit")
        hit.release()
        let elsewhere = try #require(cache.lease(layer: 0, experts: [2]))
        #expect(try elsewhere.expert(2).gate.format == model.blocks[0].moe!.ffnExperts[2].gate.format)
        elsewhere.release()

        _ = try cacheTests.run(model, steps: 12) { cache.waitForPrefetches() }
        let statistics = cache.statistics
        #expect(statistics[1].lowPrecisionMisses == statistics[1].misses && statistics[1].misses > 1)
        #expect(statistics[0].lowPrecisionMisses == 0 && statistics[0].misses > 0)
        #expect(statistics[2].lowPrecisionMisses == 0 && statistics[2].misses > 0)
    }

    @Test("a copy's output equals the naive product with the dequantised weights", arguments: [WeightFormat.q8_0, .q4_0])
    func matchesNaive(format: WeightFormat) throws {
        let directory = try calibratedCheckpoint()
        let model = try Transformer(directory: directory)
        let cache = try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(4), policy: .lru, prefetch: false, missFormat: format)
        let lease = try #require(cache.lease(layer: 1, experts: [4]))
        defer { lease.release() }
        let served = try lease.expert(4)
        var random = SeededRandom(seed: 5)
        let x = random.normals(model.config.hiddenSize, scale: 1)
        var y = [Float](repeating: 0, count: x.count)
        served.forward(x, tokens: 1, into: &y)
        // The kernels quantise the activation vector, as `quantizedMatvec` does.
        let full = model.blocks[1].moe!.ffnExperts[4]
        let (gate, up, down) = (full.gate.quantized(to: format), full.up.quantized(to: format), full.down.quantized(to: format))
        let inner = NaiveKernels.siluMultiply(NaiveKernels.quantizedMatvec(gate, x), NaiveKernels.quantizedMatvec(up, x))
        #expect(TestSupport.close(y, NaiveKernels.quantizedMatvec(down, inner), relative: 1e-5))
    }

    @Test("without --miss-format the cached model is bit-identical to the mapped one and counts no copies")
    func offIsUnchanged() throws {
        let directory = try calibratedCheckpoint()
        let reference = try cacheTests.run(try Transformer(directory: directory))
        let model = try Transformer(directory: directory)
        let cache = try ExpertCacheSetup.install(on: model, directory: directory, budget: .slots(4), policy: .lru, prefetch: true)
        #expect(try cacheTests.run(model) == reference)
        #expect(cache.missCopies == nil)
        #expect(cache.statistics.allSatisfy { $0.lowPrecisionMisses == 0 })
    }

    @Test("--miss-format without calibration.json, or on rows that are not whole blocks, is a one-line error")
    func refusals() throws {
        let uncalibrated = checkpoint()
        let model = try Transformer(directory: uncalibrated)
        #expect {
            try ExpertCacheSetup.install(on: model, directory: uncalibrated, budget: .slots(4), policy: .lru, prefetch: false, missFormat: .q4_0)
        } throws: { "\($0)".contains("calibration.json") && !"\($0)".contains("\n") }
        let directory = cacheTests.checkpoint()
        let layers = [3.0, 1.0, 2.0].map { Calibration.Layer(sensitivity: $0, expertDifference: 1, tokens: 10) }
        try Calibrator.save(Calibration(layers: layers, calibrationTokens: 10, defaultEpsilon: 0.01), directory: directory)
        let narrow = try Transformer(directory: directory)
        #expect {
            try ExpertCacheSetup.install(on: narrow, directory: directory, budget: .slots(4), policy: .lru, prefetch: false, missFormat: .q4_0)
        } throws: { "\($0)".contains("48-wide rows") && !"\($0)".contains("\n") }
    }
}
