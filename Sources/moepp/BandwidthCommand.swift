import ArgumentParser
import Foundation
import MoEKit

/// Compares the bandwidth probe's read kernels on this machine, interleaved: which one reads highest
/// here (`moepp bench` takes the best pass of any of them, MemoryBandwidth.ReadKernel.probe).
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
        let probe = MemoryBandwidth.ReadKernel.probe
        for (kernel, rates) in results {
            print(String(format: "%@ | %.1f | %.1f | %.1f | %@", kernel.name, rates.max()! / 1e9, Statistics.median(rates) / 1e9, rates.min()! / 1e9,
                         probe.contains(kernel) ? "yes" : ""))
        }
    }
}
