import Foundation
import Testing
@testable import MoEKit

@Suite("Calibration on a paged store, one layer at a time")
struct PagedCalibrationTests {
    /// The calibrator as it was before paging: the whole model in a `ParameterStore`, batch by
    /// batch through `TrainingModel` (forward, expert differences, backward).
    func unpagedLayers(directory: String, text: String, maximumTokens: Int, batch: Int, length: Int) throws -> [Calibration.Layer] {
        let config = try ModelConfig.load(path: directory + "/config.json")
        let ids = Array(try Tokenizer.load(path: directory + "/tokenizer.json").encode(text).prefix(maximumTokens))
        let store = ParameterStore<Float>(config: config)
        try store.load(from: CheckpointWeights(directory: directory))
        let model = TrainingModel(store: store, batch: batch, length: length, balanceCoefficient: 0, tau: 0)
        model.outputGradientSquares = [Double](repeating: 0, count: config.numLayers)
        var sums = [Double](repeating: 0, count: config.numLayers), counts = [Int](repeating: 0, count: config.numLayers)
        var start = 0
        let perBatch = batch * length
        while start + perBatch + 1 <= ids.count {
            store.zeroGradients()
            model.forward(tokens: Array(ids[start..<start + perBatch]), targets: Array(ids[start + 1...start + perBatch]))
            for l in 0..<config.numLayers {
                let (sum, count) = model.moe[l].expertDifference()
                sums[l] += sum
                counts[l] += count
            }
            model.backward()
            start += perBatch
        }
        return (0..<config.numLayers).map { l in
            Calibration.Layer(sensitivity: model.outputGradientSquares![l] / Double(start),
                              expertDifference: counts[l] > 0 ? sums[l] / Double(counts[l]) : 0, tokens: counts[l])
        }
    }

    @Test("paged, layer-by-layer calibration gives the unpaged numbers bit for bit", arguments: [ModelFamily.moepp, .mixtral])
    func pagedEqualsUnpaged(family: ModelFamily) throws {
        // Three layers (the gating residual crosses layers), grouped KV heads, bf16 weights.
        let directory = TestSupport.randomCheckpoint(family, seed: 11, dtype: .bf16) { $0.numLayers = 3; $0.maxPositionEmbeddings = 24 }
        let text = String(repeating: "the cat and the dog went out. a bird sang. ", count: 40)
        let paged = try Calibrator.calibrate(directory: directory, text: text, maximumTokens: 600, batch: 2, length: 24)
        let unpaged = try unpagedLayers(directory: directory, text: text, maximumTokens: 600, batch: 2, length: 24)
        #expect(paged.calibrationTokens > 3 * 48)
        #expect(paged.layers == unpaged)
        #expect(paged.layers.allSatisfy { $0.sensitivity > 0 && $0.expertDifference > 0 })
    }

    /// Whether each page of [pointer, pointer + bytes) is resident.
    func residentPages(_ pointer: UnsafeMutableRawPointer, bytes: Int) -> [Bool] {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (bytes + page - 1) / page)
        #expect(mincore(pointer, bytes, &vector) == 0)
        return vector.map { $0 & 1 == 1 }
    }

    @Test("release(layer:) returns exactly that layer's pages: they leave RAM and read back as zero, neighbours intact")
    func releaseGivesPagesBack() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 12) { $0.numLayers = 3; $0.hiddenSize = 64; $0.headDim = 16 }
        let weights = try CheckpointWeights(directory: directory)
        let store = try ParameterStore<Float>(paging: weights, config: ModelConfig.load(path: directory + "/config.json"))
        let page = Int(sysconf(Int32(_SC_PAGESIZE))) / MemoryLayout<Float>.stride
        func matchesCheckpoint(_ range: Range<Int>) throws -> Bool {
            try store.layout.entries[range].allSatisfy { entry in
                let start = store.offset(entry.name)
                return try weights.tensor(entry.name, shape: entry.shape).floats() == Array(UnsafeBufferPointer(start: store.values + start, count: entry.count))
            }
        }
        let ranges = store.layerRanges
        #expect(ranges.allSatisfy { $0.lowerBound % page == 0 && $0.upperBound % page == 0 && $0.count >= page })
        for l in 0..<3 { try store.materialize(layer: l) }
        let layer1 = UnsafeMutableRawPointer(store.values + ranges[1].lowerBound), bytes = ranges[1].count * MemoryLayout<Float>.stride
        #expect(residentPages(layer1, bytes: bytes).allSatisfy { $0 })
        store.release(layer: 1)
        #expect(residentPages(layer1, bytes: bytes).allSatisfy { !$0 }, "released pages still resident")
        #expect((ranges[1]).allSatisfy { store.values[$0] == 0 })
        #expect(try matchesCheckpoint(store.layout.layerEntries[0]))
        #expect(try matchesCheckpoint(store.layout.layerEntries[2]))
        let globals = store.layout.entries.indices.filter { i in !store.layout.layerEntries.contains { $0.contains(i) } }
        #expect(try globals.allSatisfy { try matchesCheckpoint($0..<$0 + 1) })
        try store.materialize(layer: 1)
        #expect(try matchesCheckpoint(store.layout.layerEntries[1]))
    }
}
