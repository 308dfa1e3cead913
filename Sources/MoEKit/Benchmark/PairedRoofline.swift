import Foundation

/// The roofline measured token by token: after each decoded token the probe reads as many bytes
/// as that token touched, so decode and probe share the same seconds of the machine.
///
/// Why: on a shared host the memory bandwidth a pair of cores gets moves by 2× from one second to
/// the next (BENCHMARKS.md, "Zen 4, stop 25": probe samples 32–64 GB/s within one run). The
/// probe's usual figure, the best of many passes taken before the decode, is the machine's
/// burst, and a decode that lasts seconds is set against it; the same decode against a pass taken
/// in a slow second reads above 1. Pairing removes the timing from the comparison:
///
///     fraction = (Σ decode bytes ÷ Σ decode seconds) ÷ (Σ probe bytes ÷ Σ probe seconds)
///
/// over the same tokens, each probe read right after its token. It still cannot exceed 1 for an
/// honest byte count on a model larger than the last-level cache: the probe is the fastest read
/// kernel this CPU has, reading the same number of bytes, so a fraction above 1 means the decode
/// read fewer bytes than counted (or read them from cache) and is reported invalid. Reading between
/// tokens flushes the cache, so on a model that partly fits in it the decode is slowed: this is a
/// figure for models much larger than the cache (the 7B), not for the small ones.
public final class PairedRoofline {
    public struct Result: Sendable {
        /// Decode bytes ÷ decode seconds, and probe bytes ÷ probe seconds, over all tokens.
        public var decodeBytesPerSecond: Double
        public var probeBytesPerSecond: Double
        /// Each token's decode rate over its own probe read's rate.
        public var perToken: [Double]
        public var fraction: Double { probeBytesPerSecond > 0 ? decodeBytesPerSecond / probeBytesPerSecond : 0 }
    }

    private let buffer: MemoryBandwidth.ProbeBuffer
    /// The probe kernel that read fastest when this was made (one kernel, so that the pairs compare
    /// like with like).
    public let kernel: MemoryBandwidth.ReadKernel
    private var nextBlock = 0
    private var decodeBytes = 0.0, decodeSeconds = 0.0, probeBytes = 0.0, probeSeconds = 0.0
    private var perToken: [Double] = []

    public init(megabytes: Int = MemoryBandwidth.defaultMegabytes) {
        let buffer = MemoryBandwidth.ProbeBuffer(megabytes: megabytes)
        self.buffer = buffer
        // Two passes of each kernel, interleaved; the one with the best pass is kept.
        let passes = (0..<2).flatMap { _ in MemoryBandwidth.ReadKernel.probe.map { ($0, buffer.pass($0)) } }
        kernel = passes.max { $0.1 < $1.1 }?.0 ?? .scalar
    }

    /// Records a decoded token that touched `bytes` in `seconds`, then reads as many bytes (whole
    /// 2 MiB blocks, at least one) from where the last read stopped and records that too.
    public func token(bytes: Double, seconds: Double) {
        let blocks = max(1, Int((bytes / Double(MemoryBandwidth.ProbeBuffer.blockBytes)).rounded()))
        let read = buffer.read(blocks: blocks, from: nextBlock, kernel: kernel)
        nextBlock = (nextBlock + blocks) % (buffer.bytes / MemoryBandwidth.ProbeBuffer.blockBytes)
        decodeBytes += bytes
        decodeSeconds += seconds
        probeBytes += read.bytes
        probeSeconds += read.seconds
        perToken.append((bytes / seconds) / (read.bytes / read.seconds))
    }

    public var result: Result {
        Result(decodeBytesPerSecond: decodeSeconds > 0 ? decodeBytes / decodeSeconds : 0,
               probeBytesPerSecond: probeSeconds > 0 ? probeBytes / probeSeconds : 0, perToken: perToken)
    }
}
