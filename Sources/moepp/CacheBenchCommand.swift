import ArgumentParser
import Foundation
import MoEKit

struct CacheBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache-bench",
        abstract: "Decode under an expert budget from a cold page cache: no-prefetch/LRU, prefetch/LRU, prefetch/DP (AdapMoE) vs all experts mapped.")

    @Option(name: .shortAndLong, help: "Model directories (repeatable).") var model: [String] = ["Assets/models/moepp-tiny", "Assets/models/moe-tiny"]
    @Option(name: .customLong("expert-budget"), help: "Slots (12) or a size (8MB); default: a third of the model's FFN experts.") var expertBudget: String?
    @Option(name: .customLong("decode-tokens")) var decodeTokens = 128
    @Option(help: "Repeats, each from a cold page cache; decode tok/s is the median.") var repeats = 5
    @Flag(name: .customLong("uncached-reads"), help: "Drop every expert read from the page cache, so each miss goes to the device.") var uncachedReads = false
    @Option(help: "Also run prefetch/DP with AdapMoE adaptive gating at this ε (needs calibration.json).") var adaptive: Double?
    @Option(name: .customLong("miss-format"), help: "Also run the cached configurations serving low-sensitivity misses from q8_0 or q4_0 copies (needs calibration.json).")
    var missFormat: String?
    @Option(help: "Directory of held-out .txt files: decode is fed this text instead of sampling, and reports its perplexity.")
    var validation: String?
    @Flag(help: "Print JSON lines instead of tables.") var json = false

    func validate() throws {
        for (name, value) in [("--decode-tokens", decodeTokens), ("--repeats", repeats)] where value < 1 {
            throw ValidationError("\(name): expected at least 1, found \(value)")
        }
        if let adaptive, !(adaptive > 0 && adaptive.isFinite) { throw ValidationError("--adaptive: expected a positive number") }
        if let expertBudget { _ = try ExpertBudget(parsing: expertBudget) }
        if let missFormat, ![WeightFormat.q8_0, .q4_0].contains(WeightFormat(rawValue: missFormat.uppercased())) {
            throw ValidationError("--miss-format: expected q8_0 or q4_0, found '\(missFormat)'")
        }
    }

    func run() throws {
        let text = try validation.map { try corpusFiles($0).map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n") }
        for directory in model {
            let probe = try Transformer(directory: directory, interleaving: .off)   // only its config and vocabulary are read
            let experts = probe.config.numLayers * probe.config.numFFNExperts
            let budget = try expertBudget.map { try ExpertBudget(parsing: $0) } ?? .slots((experts + 2) / 3)
            var benchmark = CacheBenchmark(directory: directory, budget: budget)
            benchmark.decodeTokens = decodeTokens
            benchmark.repeats = repeats
            benchmark.uncachedReads = uncachedReads
            if let text {
                benchmark.heldOutTokens = try Tokenizer.load(directory: directory, vocabularySize: probe.config.vocabSize).encode(text)
            }
            var configurations = [
                CacheBenchmark.Configuration(name: "all experts mapped", policy: nil, prefetch: false),
                CacheBenchmark.Configuration(name: "no prefetch / LRU", policy: .lru, prefetch: false),
                CacheBenchmark.Configuration(name: "prefetch / LRU", policy: .lru, prefetch: true),
                CacheBenchmark.Configuration(name: "prefetch / DP", policy: .dp, prefetch: true),
            ]
            if let adaptive, let calibration = try Calibrator.load(directory: directory) {
                configurations.append(CacheBenchmark.Configuration(name: "prefetch / DP + adaptive ε=\(adaptive)", policy: .dp, prefetch: true,
                                                                   adaptiveGate: AdaptiveGate(calibration: calibration, epsilon: adaptive)))
            }
            if let format = missFormat.flatMap({ WeightFormat(rawValue: $0.uppercased()) }), try Calibrator.load(directory: directory) != nil {
                configurations += configurations.filter { $0.policy != nil && $0.adaptiveGate == nil }.map { base in
                    var twin = base
                    twin.name += " + \(format.name) on miss"
                    twin.missFormat = format
                    return twin
                }
            }
            let rows = try benchmark.run(configurations)
            let name = (directory as NSString).lastPathComponent
            if json {
                for row in rows { JSONLines.print(row) }
                continue
            }
            // The size the cache rows ran with (every cache configuration shares the budget).
            guard let sized = rows.first(where: { $0.slots != nil }), let slots = sized.slots, let slotBytes = sized.slotBytes else { continue }
            print(String(format: "\n%@: budget %d of %d experts (%.1f of %.1f MB), %d decode tokens, median of %d cold-start rounds (configurations interleaved)%@",
                         name, slots, experts, Double(slots * slotBytes) / 1e6, Double(experts * slotBytes) / 1e6,
                         decodeTokens, repeats, uncachedReads ? ", every miss read from the device" : ""))
            print("| configuration | decode tok/s | vs mapped | hit rate | demand reads/token | prefetch reads/token | wasted prefetches | MB read/token | FFN experts/token/layer |")
            print("|---|---|---|---|---|---|---|---|---|")
            let reference = rows[0].decodeTokensPerSecond
            for row in rows {
                guard let cache = row.cache else {
                    print(String(format: "| %@ | %.1f | 1.00 | — | — | — | — | — | %.2f |", row.name, row.decodeTokensPerSecond, row.ffnExpertsPerTokenPerLayer))
                    continue
                }
                print(String(format: "| %@ | %.1f | %.2f | %.3f | %.2f | %.2f | %d | %.2f | %.2f |", row.name, row.decodeTokensPerSecond,
                             row.decodeTokensPerSecond / reference, cache.hitRate, row.demandReadsPerToken, row.prefetchLoadsPerToken,
                             cache.prefetchWasted, row.bytesReadPerToken / 1e6, row.ffnExpertsPerTokenPerLayer))
            }
            if rows.contains(where: { $0.missCopyBytes != nil || $0.decodePerplexity != nil }) {
                print("\n| configuration | decode perplexity | low-precision misses/token | copies MB |\n|---|---|---|---|")
                for row in rows {
                    print(String(format: "| %@ | %@ | %.2f | %@ |", row.name, row.decodePerplexity.map { String(format: "%.3f", $0) } ?? "—",
                                 Double(row.cache?.lowPrecisionMisses ?? 0) / Double(max(1, row.decodedTokens)),
                                 row.missCopyBytes.map { String(format: "%.2f", Double($0) / 1e6) } ?? "—"))
                }
            }
            print("\nper layer | " + (0..<probe.config.numLayers).map { "layer \($0)" }.joined(separator: " | "))
            for row in rows where row.cache != nil {
                print("hit rate, \(row.name) | " + row.perLayerHitRate.map { String(format: "%.3f", $0) }.joined(separator: " | "))
                if !row.prefetchAccuracy.isEmpty {
                    print("prefetch accuracy, \(row.name) | " + row.prefetchAccuracy.map { $0.map { String(format: "%.3f", $0) } ?? "—" }.joined(separator: " | "))
                }
                if let allocation = row.allocation {
                    print("DP slots, \(row.name) | " + allocation.map(String.init).joined(separator: " | "))
                }
            }
        }
    }
}
