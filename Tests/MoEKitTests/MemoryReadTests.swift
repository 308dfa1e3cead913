import CQuantKernels
import Foundation
import Testing
@testable import MoEKit

/// The bandwidth probe's read kernels (memory_read.c): every body this CPU can run returns the
/// scalar twin's wrapping sum of 64-bit words, on awkward lengths and starts (unaligned ends,
/// spans not a whole number of 256- or 512-byte steps, quarters of odd size).
@Suite("Bandwidth probe read kernels")
struct MemoryReadTests {
    @Test("each read kernel equals the scalar sum", arguments: MemoryBandwidth.ReadKernel.allCases)
    func readKernelEqualsScalar(kernel: MemoryBandwidth.ReadKernel) {
        guard kernel.isAvailable else { return }
        var random = SeededRandom(seed: 7)
        let words = 70_000
        let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        defer { buffer.deallocate() }
        for i in 0..<words { buffer[i] = random.next() }
        for startWord in [0, 1, 3, 7, 8, 9] {
            for lengthWords in [0, 1, 5, 31, 32, 33, 64, 127, 511, 4_099, 65_537] {
                let start = UnsafeRawPointer(buffer + startWord)
                let bytes = lengthWords * 8
                var expected: UInt64 = 0
                for i in 0..<lengthWords { expected &+= buffer[startWord + i] }
                #expect(moe_read_sum_scalar(start, bytes) == expected)
                #expect(moe_read_sum(start, bytes, kernel.rawValue) == expected, "\(kernel.name), start \(startWord), words \(lengthWords)")
            }
        }
    }

    @Test("the probe reads every byte of its buffer with each kernel (its sum is checked) and reports a rate")
    func probePassesCheckTheirSum() {
        // A small buffer: this checks the pass, not the machine (no speed is asserted).
        let results = MemoryBandwidth.compare(megabytes: 8, rounds: 2)
        #expect(results.map(\.kernel) == MemoryBandwidth.ReadKernel.allCases.filter(\.isAvailable))
        for result in results { #expect(result.rates.count == 2 && result.rates.allSatisfy { $0 > 0 }) }
        #expect(MemoryBandwidth.measure(megabytes: 8, repeats: 2) > 0)
        #expect(!MemoryBandwidth.ReadKernel.probe.isEmpty && MemoryBandwidth.ReadKernel.probe.allSatisfy(\.isAvailable))
    }
}

/// The roofline measured between decoded tokens (PairedRoofline): reads that wrap past the probe
/// buffer's end sum every word once, and the pairs add up to the figures the bench prints.
@Suite("Paired roofline")
struct PairedRooflineTests {
    @Test("Σ i over [a, a + n) in closed form equals the sum, wrapping included")
    func wordSumClosedForm() {
        for a: UInt64 in [0, 1, 2, 7, 1 << 20, (1 << 62) + 3] {
            for n: UInt64 in [0, 1, 2, 3, 10, 11] {
                var sum: UInt64 = 0
                for i in 0..<n { sum &+= a &+ i }
                #expect(MemoryBandwidth.ProbeBuffer.wordSum(from: a, count: n) == sum, "a \(a), n \(n)")
            }
        }
    }

    @Test("a read of blocks that wraps past the buffer's end sums each block's words as the scalar twin does")
    func wrappingReadSumsEveryBlock() {
        let buffer = MemoryBandwidth.ProbeBuffer(megabytes: 6)   // three 2 MiB blocks
        let block = MemoryBandwidth.ProbeBuffer.blockBytes
        for kernel in MemoryBandwidth.ReadKernel.probe {
            for (first, count) in [(0, 3), (2, 1), (2, 2), (1, 5), (0, 0)] {
                var expected: UInt64 = 0
                for k in 0..<count { expected &+= moe_read_sum_scalar(buffer.base + ((first + k) % 3) * block, block) }
                let read = buffer.read(blocks: count, from: first, kernel: kernel)
                #expect(read.sum == expected, "\(kernel.name): \(count) blocks from \(first)")
                #expect(read.bytes == Double(count * block))
            }
        }
    }

    @Test("each token's probe read is as many whole blocks as it touched, and the fraction is decode rate over probe rate")
    func pairsAddUp() {
        let paired = PairedRoofline(megabytes: 8)
        let block = Double(MemoryBandwidth.ProbeBuffer.blockBytes)
        paired.token(bytes: 3 * block, seconds: 0.01)
        paired.token(bytes: 0.2 * block, seconds: 0.001)   // rounds to none: reads one block
        let result = paired.result
        #expect(result.perToken.count == 2)
        #expect(abs(result.decodeBytesPerSecond - 3.2 * block / 0.011) < 1e-6 * result.decodeBytesPerSecond)
        #expect(result.probeBytesPerSecond > 0)
        #expect(abs(result.fraction - result.decodeBytesPerSecond / result.probeBytesPerSecond) < 1e-12)
    }

    @Test("a benchmark with a paired roofline pairs every decoded token, and its decode rate is its tokens' own seconds")
    func benchmarkPairsEveryToken() throws {
        let model = try Transformer(directory: TestSupport.randomCheckpoint(.mixtral, seed: 31))
        var benchmark = DecodeBenchmark(model: model)
        benchmark.promptTokens = 4
        benchmark.decodeTokens = 5
        benchmark.repeats = 1
        benchmark.pairedRoofline = PairedRoofline(megabytes: 8)
        let result = try benchmark.run(bandwidth: 1e9)
        let paired = try #require(result.paired)
        #expect(paired.perToken.count == 5)
        // One repeat: bytes per token × tokens per second is Σ bytes ÷ Σ decode seconds.
        let implied = result.bytesPerToken * result.decodeTokensPerSecond
        #expect(abs(paired.decodeBytesPerSecond - implied) < 1e-9 * implied)
    }
}
