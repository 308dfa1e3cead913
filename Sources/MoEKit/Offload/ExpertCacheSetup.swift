import Foundation

/// How much memory the user grants the expert cache: slots, or bytes (`12`, `8MB`, `6MiB`, `1.5GB`).
public enum ExpertBudget: Equatable, Sendable {
    case slots(Int)
    case bytes(Int)

    public struct ParseError: Error, CustomStringConvertible {
        public var text: String
        public var description: String { "--expert-budget '\(text)': expected a slot count (12) or a size (8MB, 6MiB, 1.5GB)" }
    }

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)]
        for (suffix, scale) in units where trimmed.uppercased().hasSuffix(suffix.uppercased()) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            // Beyond a petabyte is a typo, and would overflow the byte count.
            guard let value = Double(number), value > 0, value.isFinite, value * scale <= 1e15 else { throw ParseError(text: text) }
            self = .bytes(Int(value * scale))
            return
        }
        guard let slots = Int(trimmed), slots > 0 else { throw ParseError(text: text) }
        self = .slots(slots)
    }

    public func slots(expertBytes: Int) -> Int {
        switch self {
        case .slots(let n): return n
        case .bytes(let b): return expertBytes > 0 ? b / expertBytes : 0
        }
    }
}

/// Puts a model's FFN experts behind a budgeted cache: the one place the CLI, the playground and
/// the benchmarks turn user settings into an `ExpertCache`.
public enum ExpertCacheSetup {
    public enum PolicyName: String, CaseIterable, Sendable {
        case lru
        case dp
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    @discardableResult
    public static func install(on model: Transformer, directory: String, budget: ExpertBudget, policy: PolicyName,
                               prefetch: Bool, uncachedReads: Bool = false, missFormat: WeightFormat? = nil) throws -> ExpertCache {
        let store = try ExpertStore(model: model)
        store.uncachedReads = uncachedReads
        let total = store.layers * store.expertsPerLayer
        let requested = budget.slots(expertBytes: store.slotBytes)
        // More slots than experts would only hold empty memory.
        let slots = min(requested, total)
        let topK = model.config.topK
        if slots < topK {
            let mb = { (slots: Int) in String(format: "%.2f MB", Double(slots) * Double(store.slotBytes) / 1e6) }
            throw Failure(description: "--expert-budget: \(requested) slot\(requested == 1 ? "" : "s") (\(mb(requested))) cannot hold one layer's top-\(topK) experts; give at least \(topK) slots (\(mb(topK)))")
        }
        let cachePolicy: ExpertCache.Policy
        switch policy {
        case .lru:
            cachePolicy = .leastRecentlyUsed
        case .dp:
            guard slots >= store.layers else {
                throw Failure(description: "--cache-policy dp: \(slots) slots cannot give each of the \(store.layers) layers one; use lru or a larger --expert-budget")
            }
            guard let calibration = try Calibrator.load(directory: directory) else {
                throw Failure(description: "--cache-policy dp: \(Calibrator.path(for: directory)) not found; run `moepp calibrate --model \(directory)` first")
            }
            guard let profile = calibration.cache, profile.layers.count == store.layers else {
                throw Failure(description: "--cache-policy dp: \(Calibrator.path(for: directory)) has no cache profile for \(store.layers) layers; rerun `moepp calibrate --model \(directory)`")
            }
            cachePolicy = .perLayer(CacheAllocation.allocate(profile, budget: slots))
        }
        let cache = try ExpertCache(store: store, slots: slots, policy: cachePolicy, topK: topK)
        if let missFormat {
            guard let calibration = try Calibrator.load(directory: directory) else {
                throw Failure(description: "--miss-format: \(Calibrator.path(for: directory)) not found; run `moepp calibrate --model \(directory)` first")
            }
            guard calibration.layers.count == store.layers else {
                throw Failure(description: "--miss-format: \(Calibrator.path(for: directory)) has \(calibration.layers.count) layers, the model \(store.layers)")
            }
            let layers = MissCopies.allowedLayers(sensitivities: calibration.layers.map(\.sensitivity))
            cache.missCopies = try MissCopies(store: store, format: missFormat, layers: layers)
        }
        model.expertCache = cache
        model.expertPrediction = prefetch
        return cache
    }
}
