import ArgumentParser
import Foundation
import MoEKit

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt and decode throughput against the memory-bandwidth roofline (medians over repeats).")

    @Option(name: .shortAndLong, help: "Checkpoint directories to measure (repeatable). Default: the synthetic pair.") var model: [String] = []
    @Option(help: "Also measure seeded random checkpoints of these families (repeatable): moe++, mixtral.") var synthetic: [String] = []
    @Option(help: "Synthetic model: hidden size.") var hidden = 1024
    @Option(help: "Synthetic model: expert intermediate size.") var intermediate = 2048
    @Option(help: "Synthetic model: layers.") var layers = 8
    @Option(name: .customLong("ffn-experts"), help: "Synthetic model: FFN experts per layer.") var ffnExperts = 8
    @Option(help: "Synthetic model: F32, F16 or BF16.") var dtype = "BF16"
    @Option(name: .customLong("prompt-tokens")) var promptTokens = 128
    @Option(name: .customLong("decode-tokens")) var decodeTokens = 64
    @Option(help: "Repeats; figures are medians.") var repeats = 5
    @Option(name: .customLong("quantize"), help: ArgumentHelp(
        "Also serve each model with its matrices quantised in memory at load to these block formats (repeatable): q8_0, q4_0, q4_k.",
        discussion: "The stored and quantised variants then run interleaved, one repeat of each per round; figures are medians with min–max."))
    var quantize: [String] = []
    @Flag(name: .customLong("paired-roofline"), help: ArgumentHelp(
        "Also set decode against the bandwidth probe read right after each token, as many bytes as the token touched.",
        discussion: "On a shared host the bandwidth moves from one second to the next; pairing each token with a probe read gives the fraction of the roofline over the same seconds. Reading between tokens flushes the cache: meant for models much larger than it."))
    var pairedRoofline = false
    @Flag(name: .customLong("region-statistics"), help: ArgumentHelp(
        "Also print how long one thread sat idle at the ends of the decode's parallel regions.",
        discussion: "Each parallel region (one or a few matrix products) ends when its last chunk does; the share of the regions' time one participant waited for another is the lost parallelism, measured inside the process and so independent of the host's bandwidth at the moment. Costs a clock read per chunk."))
    var regionStatistics = false
    @OptionGroup var loadingOptions: LoadingOptions
    @OptionGroup var routing: RoutingOptions
    @OptionGroup var precision: PrecisionOptions

    func validate() throws {
        for (name, value) in [("--repeats", repeats), ("--prompt-tokens", promptTokens), ("--decode-tokens", decodeTokens),
                              ("--hidden", hidden), ("--intermediate", intermediate), ("--layers", layers), ("--ffn-experts", ffnExperts)] where value < 1 {
            throw ValidationError("\(name): expected at least 1, found \(value)")
        }
        guard hidden % 64 == 0 else { throw ValidationError("--hidden: a multiple of 64 (heads of 64)") }
        guard let format = WeightFormat(rawValue: dtype.uppercased()), format.elementsPerBlock == 1 else { throw ValidationError("--dtype: expected F32, F16 or BF16") }
        _ = try quantizeFormats()
        for (flag, isSet) in [("--paired-roofline", pairedRoofline), ("--region-statistics", regionStatistics)] where isSet && !quantize.isEmpty {
            throw ValidationError("\(flag): not with --quantize (measure one model at a time)")
        }
    }

    func quantizeFormats() throws -> [WeightFormat] {
        try quantize.map { name in
            guard let format = WeightFormat(rawValue: name.uppercased()), canQuantize(to: format) else {
                throw ValidationError("--quantize: expected q8_0, q4_0 or q4_k, found \(name)")
            }
            return format
        }
    }

    /// Streams a seeded random checkpoint into a scratch directory (removed after the run), so
    /// the bench neither holds it in memory nor leaves gigabytes in the current directory.
    func syntheticModel(_ family: ModelFamily, scratch: String) throws -> String {
        let format = WeightFormat(rawValue: dtype.uppercased())!
        let name = "\(family == .moepp ? "moepp" : family.rawValue)-h\(hidden)-i\(intermediate)-l\(layers)-e\(ffnExperts)-\(format.rawValue)"
        let directory = (scratch as NSString).appendingPathComponent(name)
        FileHandle.standardError.write(Data("writing synthetic checkpoint \(directory)…\n".utf8))
        let config = RandomCheckpoint.tinyConfig(family, hidden: hidden, layers: layers, ffnExperts: ffnExperts,
                                                 intermediate: intermediate, heads: max(1, hidden / 64))
        try SyntheticCheckpoint(config: config, weightFormat: format).write(to: directory, fileFormat: .safetensors, seed: 1) { path, plan in
            try SafeTensorsStreamWriter(path: path, plan: plan)
        }
        return directory
    }

    var loading: WeightLoading { loadingOptions.loading }

    func run() throws {
        try precision.apply()
        loadingOptions.applyInterleaving(expertCache: false)
        var directories = model
        var families = try synthetic.map { name -> ModelFamily in
            guard let family = ModelFamily(rawValue: name) else { throw ValidationError("--synthetic: expected moe++ or mixtral") }
            return family
        }
        if directories.isEmpty && families.isEmpty { families = [.moepp, .mixtral] }
        let scratch = (NSTemporaryDirectory() as NSString).appendingPathComponent("moepp-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        directories += try families.map { try syntheticModel($0, scratch: scratch) }
        var bandwidth = MemoryBandwidth.measure()
        print(String(format: "memory bandwidth (%d threads, %@, 3 passes each over %d MiB): %.1f GB/s", Parallel.coreCount,
                     MemoryBandwidth.ReadKernel.probeName, MemoryBandwidth.defaultMegabytes, bandwidth / 1e9))
        print("bf16 products: \(ComputePrecision.current.label)")
        if !quantize.isEmpty {
            try runQuantized(directories, formats: try quantizeFormats(), bandwidth: bandwidth)
            return
        }
        print("model | weights MB | prompt tok/s | decode tok/s | FFN experts/token/layer | slots ffn/zero/copy/const | MB/token | roofline tok/s | of roofline")
        for directory in directories {
            let transformer = try Transformer(directory: directory, loading: loading)
            var benchmark = DecodeBenchmark(model: transformer)
            benchmark.promptTokens = promptTokens
            benchmark.decodeTokens = decodeTokens
            benchmark.repeats = repeats
            benchmark.controls = try routing.controls(for: transformer.config, modelDirectory: directory)
            if pairedRoofline { benchmark.pairedRoofline = PairedRoofline() }
            benchmark.regionStatistics = regionStatistics
            // Probed again beside each model: the best figure of the run is the roofline.
            bandwidth = max(bandwidth, MemoryBandwidth.measure())
            let r = try benchmark.run(bandwidth: bandwidth)
            let size = Double(transformer.weights.files.reduce(0) { $0 + $1.size }) / 1e6
            let share = ["ffn", "zero", "copy", "const"].map { String(format: "%.2f", r.slotShare[$0] ?? 0) }.joined(separator: "/")
            // Above 1 is physically impossible: say so instead of printing it.
            let fraction = r.fractionOfRoofline <= 1 ? String(format: "%.2f", r.fractionOfRoofline)
                : String(format: "invalid (%.2f > 1: bandwidth probe too low, machine busy?)", r.fractionOfRoofline)
            print(String(format: "%@ | %.0f | %.1f | %.2f | %.2f | %@ | %.1f | %.1f | %@ (bandwidth %.1f GB/s)", (directory as NSString).lastPathComponent, size,
                         r.promptTokensPerSecond, r.decodeTokensPerSecond, r.ffnExpertsPerTokenPerLayer, share,
                         r.bytesPerToken / 1e6, r.rooflineTokensPerSecond, fraction, bandwidth / 1e9))
            if let paired = r.paired, let kernel = benchmark.pairedRoofline?.kernel { printPaired(paired, kernel: kernel) }
            if let regions = r.regions {
                print(String(format: "regions: %.1f per decoded token, %.1f%% of decode time inside them; one thread idle at their ends %.1f%% of that time",
                             Double(regions.regions) / Double(decodeTokens * repeats), 100 * regions.seconds / max(r.decodeSeconds, 1e-9), 100 * regions.idleShare))
            }
        }
    }

    /// One line for scripts: "paired roofline: F (per token median M, min–max) …", F "invalid" above 1.
    func printPaired(_ paired: PairedRoofline.Result, kernel: MemoryBandwidth.ReadKernel) {
        let sorted = paired.perToken.sorted()
        let fraction = paired.fraction <= 1 ? String(format: "%.2f", paired.fraction)
            : String(format: "invalid (%.2f > 1: the decode read fewer bytes than counted, or from cache)", paired.fraction)
        print(String(format: "paired roofline: %@ (per token median %.2f, %.2f–%.2f); decode %.1f GB/s, probe (%@) between tokens %.1f GB/s",
                     fraction, Statistics.median(sorted), sorted.first ?? 0, sorted.last ?? 0, paired.decodeBytesPerSecond / 1e9,
                     kernel.name, paired.probeBytesPerSecond / 1e9))
    }

    /// Each model as stored and quantised to each format, one repeat of each per round so that
    /// machine noise (other users of the two cores) spreads over all variants alike.
    func runQuantized(_ directories: [String], formats: [WeightFormat], bandwidth: Double) throws {
        print("model | format | weights MB | prompt tok/s median (min–max) | decode tok/s median (min–max) | MB/token | roofline tok/s | of roofline | decode × stored")
        for directory in directories {
            let stored = try Transformer(directory: directory, loading: loading)
            var variants: [(name: String, model: Transformer)] = [(stored.embeddingFormat.name + " (stored)", stored)]
            for format in formats {
                FileHandle.standardError.write(Data("quantising \((directory as NSString).lastPathComponent) to \(format.name)…\n".utf8))
                variants.append((format.name, try InMemoryQuantization.load(directory: directory, format: format)))
            }
            var results = [[DecodeBenchmark.Result]](repeating: [], count: variants.count)
            // The roofline uses the best bandwidth seen, measured again each round: on a shared
            // machine one early measurement can be low, and a fraction above 1 would mean nothing.
            var roundBandwidths = [bandwidth]
            for _ in 0..<repeats {
                roundBandwidths.append(MemoryBandwidth.measure(repeats: 3))
                for (v, variant) in variants.enumerated() {
                    var benchmark = DecodeBenchmark(model: variant.model)
                    benchmark.promptTokens = promptTokens
                    benchmark.decodeTokens = decodeTokens
                    benchmark.repeats = 1
                    benchmark.controls = try routing.controls(for: variant.model.config, modelDirectory: directory)
                    results[v].append(try benchmark.run(bandwidth: bandwidth))
                }
            }
            let peak = roundBandwidths.max()!
            print(String(format: "%@: bandwidth per round %@ GB/s; roofline at the best, %.1f GB/s", (directory as NSString).lastPathComponent,
                         roundBandwidths.map { String(format: "%.1f", $0 / 1e9) }.joined(separator: ", "), peak / 1e9))
            let storedDecode = Statistics.median(results[0].map(\.decodeTokensPerSecond))
            for (v, variant) in variants.enumerated() {
                let prompt = results[v].map(\.promptTokensPerSecond), decode = results[v].map(\.decodeTokensPerSecond)
                let bytes = Statistics.median(results[v].map(\.bytesPerToken))
                let weightBytes = variant.model.quantizableMatrixBytes
                let roofline = peak / bytes
                print(String(format: "%@ | %@ | %.0f | %.1f (%.1f–%.1f) | %.2f (%.2f–%.2f) | %.1f | %.1f | %.2f | %.2f",
                             (directory as NSString).lastPathComponent, variant.name, Double(weightBytes) / 1e6,
                             Statistics.median(prompt), prompt.min()!, prompt.max()!,
                             Statistics.median(decode), decode.min()!, decode.max()!,
                             bytes / 1e6, roofline, Statistics.median(decode) / roofline, Statistics.median(decode) / storedDecode))
            }
        }
    }
}
