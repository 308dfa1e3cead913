import ArgumentParser
import Foundation
import MoEKit

/// Compares the bandwidth probe's read kernels on this machine, interleaved: the evidence for the
/// kernel `moepp bench` probes with (MemoryBandwidth.ReadKernel.probe).
struct BandwidthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bandwidth",
        abstract: "Measure memory read bandwidth with each read kernel, interleaved (best and median per kernel).")

    @Option(help: "Rounds: each kernel reads the buffer once per round, kernels in turn.") var rounds = 7
    @Option(help: "Buffer size in MiB (keep it several times the last-level cache).") var megabytes = MemoryBandwidth.defaultMegabytes

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds: expected at least 1, found \(rounds)") }
        guard megabytes >= 4 else { throw ValidationError("--megabytes: expected at least 4, found \(megabytes)") }
        let half = Int(ProcessInfo.processInfo.physicalMemory >> 21)
        guard megabytes <= half else { throw ValidationError("--megabytes: at most half of this machine's memory, \(half) MiB; found \(megabytes)") }
    }

    func run() throws {
        print("read bandwidth, \(Parallel.coreCount) threads, \(megabytes) MiB buffer, \(rounds) interleaved rounds (GB/s)")
        print("kernel | best | median | min | probe")
        let results = MemoryBandwidth.compare(megabytes: megabytes, rounds: rounds)
        for (kernel, rates) in results {
            print(String(format: "%@ | %.1f | %.1f | %.1f | %@", kernel.name, rates.max()! / 1e9, Statistics.median(rates) / 1e9, rates.min()! / 1e9,
                         kernel == .probe ? "yes" : ""))
        }
        // The probe's kernel was chosen on the machines we measured; say so when this one differs,
        // since a probe that reads low makes every "of roofline" figure of `bench` read high.
        let probeMedian = results.first { $0.kernel == .probe }.map { Statistics.median($0.rates) } ?? 0
        if let best = results.max(by: { Statistics.median($0.rates) < Statistics.median($1.rates) }),
           best.kernel != .probe, Statistics.median(best.rates) > 1.05 * probeMedian {
            print(String(format: "note: '%@' read %.0f%% above the probe's kernel here (medians); bench's roofline fractions are high by as much",
                         best.kernel.name, (Statistics.median(best.rates) / probeMedian - 1) * 100))
        }
    }
}
