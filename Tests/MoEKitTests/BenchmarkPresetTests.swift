import Testing
@testable import MoEKit

/// The Mixtral-style presets `make bench-llamacpp` compares against llama.cpp: BENCHMARKS.md
/// quotes their sizes, and Q4_K rows must be whole 256-element super-blocks in every matrix, or
/// the quantiser falls back to Q4_0 and the two engines would no longer read the same format.
@Suite("Benchmark presets")
struct BenchmarkPresetTests {
    /// Total and per-token parameters (top-k of the experts active) from the checkpoint layout.
    func parameters(_ size: SyntheticCheckpoint.MixtralBenchmarkSize) -> (total: Int, active: Int, matrixWidths: Set<Int>) {
        let config = SyntheticCheckpoint.mixtralBenchmark(size).config
        var total = 0, active = 0
        var widths = Set<Int>()
        for entry in CheckpointLayout(config: config).entries {
            total += entry.count
            active += entry.role == .ffnExpert ? (entry.expert! < config.topK ? entry.count : 0) : entry.count
            if entry.shape.count == 2 && entry.role != .router { widths.insert(entry.shape[1]) }
        }
        return (total, active, widths)
    }

    @Test("145 M preset: 147 M parameters, 41 M active, vocab 512; 1.1 B preset: 1.13 B, 420 M active, vocab 32 000")
    func sizes() {
        let small = parameters(.small), large = parameters(.large)
        #expect(small.total == 146_791_680 && small.active == 40_623_360)
        #expect(large.total == 1_127_323_648 && large.active == 419_534_848)
        #expect(SyntheticCheckpoint.mixtralBenchmark(.small).config.vocabSize == 512)
        #expect(SyntheticCheckpoint.mixtralBenchmark(.large).config.vocabSize == 32_000)
        #expect((small.matrixWidths.union(large.matrixWidths)).allSatisfy { $0 % 256 == 0 })
    }
}
