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
