import ArgumentParser
import Foundation
import MoEKit

struct MatvecBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matvec-bench",
        abstract: "Matrix–vector throughput per weight format (weight GB/s, share of measured memory bandwidth; interleaved rounds).")

    @Option var rows = 4096
    @Option var cols = 4096
    @Option(name: .customLong("format"), help: "Formats to measure (repeatable): f32, f16, bf16, q8_0, q4_0, q5_0, q5_1, q4_k, q5_k, q6_k; q8_0-rows8, q4_0-rows8, q4_k-rows8, q5_k-rows8 and q6_k-rows8 for the eight-row groups a load makes on AVX-512 VNNI CPUs (q4_k-rows8 on every x86-64 CPU).")
    var formats: [String] = ["bf16", "q8_0", "q4_0", "q4_k", "q6_k"]
    @Option(help: "Rounds; figures are medians with min–max.") var rounds = 7
    @Option(name: .customLong("pool-mb"), help: "Bytes of copies each format cycles through; below the last-level cache (32 MiB here) it measures the kernels' compute instead of memory.")
    var poolMegabytes = 256
    @Option(help: "Kernel bodies: best (what this CPU runs), avx2 (what CPUs without AVX-512 run), scalar.")
    var kernels: KernelPath = .best

    func validate() throws {
        guard rows >= 1, rounds >= 1, poolMegabytes >= 1 else { throw ValidationError("--rows, --rounds and --pool-mb: at least 1") }
        for (format, layout) in try parsedFormats() {
            guard format.canHoldRow(of: cols) else {
                throw ValidationError("--cols: \(cols) is not whole \(format.name) blocks of \(format.elementsPerBlock)")
            }
            if layout == .rows8 && rows % 8 != 0 { throw ValidationError("--format \(format.name)-rows8: --rows must be a multiple of 8, not \(rows)") }
            // Only the scalar twin reads those groups on that path, and no CPU runs it so: no figure to give.
            if layout == .rows8 && kernels == .avx2 && !WeightMatrix.rows8AVX2Formats.contains(format) {
                throw ValidationError("--format \(format.name)-rows8 with --kernels avx2: no AVX2 body reads that layout (CPUs without AVX-512 VNNI keep \(format.name) row-major; measure --format \(format.name))")
            }
        }
    }

    func parsedFormats() throws -> [(format: WeightFormat, layout: RowLayout)] {
        try formats.map { name in
            let rows8 = name.lowercased().hasSuffix("-rows8")
            let base = rows8 ? String(name.dropLast("-rows8".count)) : name
            guard let format = WeightFormat(rawValue: base.uppercased()), !rows8 || WeightMatrix.rows8Formats.contains(format) else {
                throw ValidationError("--format: unknown format \(name)")
            }
            return (format, rows8 ? .rows8 : .rowMajor)
        }
    }

    func run() throws {
        print("\(rows)×\(cols), \(Parallel.coreCount) threads, \(kernels.rawValue) kernels, \(rounds) interleaved rounds; 'of read bandwidth' is each round's rate over the bandwidth probe (\(MemoryBandwidth.ReadKernel.probeName), two passes each) over as many bytes, the larger of the probes before and after the round")
        print("format | MB per product | weight GB/s median (min–max) | of read bandwidth median (min–max) | products/s median")
        var refused = false
        for r in MatvecBenchmark.run(rows: rows, cols: cols, variants: try parsedFormats(), poolBytes: poolMegabytes << 20, rounds: rounds, path: kernels) {
            // Above 1 the probe, not the kernel, is wrong (or the pool fits a cache): no figure.
            let fraction = r.fractions.max()! > 1 ? "—" : String(format: "%.2f (%.2f–%.2f)", Statistics.median(r.fractions), r.fractions.min()!, r.fractions.max()!)
            refused = refused || fraction == "—"
            print(String(format: "%@ | %.1f | %.1f (%.1f–%.1f) | %@ | %.0f", r.name, Double(r.bytesPerProduct) / 1e6,
                         r.median / 1e9, r.rates.min()! / 1e9, r.rates.max()! / 1e9, fraction, r.median / Double(r.bytesPerProduct)))
        }
        if refused { print("—: a round read faster than the probe (a pool that fits in cache, or a probe in a slow moment); no fraction printed") }
    }
}

extension KernelPath: ExpressibleByArgument {}
