import ArgumentParser
import Foundation
import MoEKit

/// AdapMoE's expert cache and prefetcher, as flags. Without --expert-budget every expert stays
/// in the mapped checkpoint and nothing here applies.
struct CacheOptions: ParsableArguments {
    @Option(name: .customLong("expert-budget"),
            help: "Keep FFN experts in a bounded cache read from disk: a slot count (12) or a size (8MB, 6MiB).")
    var expertBudget: String?
    @Option(name: .customLong("cache-policy"), help: "lru (one pool) or dp (AdapMoE's per-layer sizes from calibration.json).")
    var cachePolicy: String?
    @Flag(name: .customLong("no-prefetch"), help: "Do not predict and prefetch the next layer's experts.") var noPrefetch = false
    @Flag(name: .customLong("uncached-reads"), help: "Drop each expert read from the page cache, so every miss goes to the device.")
    var uncachedReads = false
    @Option(name: .customLong("miss-format"),
            help: "q8_0 or q4_0: on a miss in a layer whose calibrated sensitivity is below the median, compute from a copy in this format while the full expert loads.")
    var missFormat: String?

    /// The parsed --miss-format (validated in `validate`).
    var missWeightFormat: WeightFormat? { missFormat.flatMap { WeightFormat(rawValue: $0.uppercased()) } }

    func validate() throws {
        if let cachePolicy, ExpertCacheSetup.PolicyName(rawValue: cachePolicy) == nil { throw ValidationError("--cache-policy: expected lru or dp") }
        if let missFormat, ![WeightFormat.q8_0, .q4_0].contains(WeightFormat(rawValue: missFormat.uppercased())) {
            throw ValidationError("--miss-format: expected q8_0 or q4_0, found '\(missFormat)'")
        }
        if let expertBudget {
            _ = try ExpertBudget(parsing: expertBudget)
        } else {
            // These only shape an expert cache; silently ignoring them would mislead a benchmark.
            let given = [cachePolicy != nil ? "--cache-policy" : nil, noPrefetch ? "--no-prefetch" : nil, uncachedReads ? "--uncached-reads" : nil,
                         missFormat != nil ? "--miss-format" : nil].compactMap { $0 }
            if let first = given.first { throw ValidationError("\(first) applies to an expert cache: give --expert-budget too") }
        }
    }

    /// An expert cache bounds the experts' memory by dropping their mapped pages; a copied model
    /// (`--no-mmap`) keeps every page resident, so the bound would silently not hold.
    func validate(loading: WeightLoading) throws {
        if expertBudget != nil && loading == .copied {
            throw ValidationError("--no-mmap keeps the whole model in memory: it cannot be combined with --expert-budget")
        }
    }

    /// Installs the cache on the generator's model when a budget was given.
    func apply(to model: Transformer, directory: String) throws {
        guard let expertBudget else { return }
        try ExpertCacheSetup.install(on: model, directory: directory, budget: try ExpertBudget(parsing: expertBudget),
                                     policy: ExpertCacheSetup.PolicyName(rawValue: cachePolicy ?? "lru") ?? .lru, prefetch: !noPrefetch,
                                     uncachedReads: uncachedReads, missFormat: missWeightFormat)
    }
}
