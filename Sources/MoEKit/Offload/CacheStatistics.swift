/// Counters of one layer's expert traffic through the cache. Hit rate counts a request served
/// without a demand read: the expert was resident, or a prefetch had already started loading it.
public struct LayerCacheStatistics: Sendable, Codable, Equatable {
    /// Experts the layer asked for.
    public var requests = 0
    /// Requests served from a slot without reading (includes `prefetchHits`).
    public var hits = 0
    /// Hits on an expert that a prefetch brought in (or was still bringing in: `prefetchWaits`).
    public var prefetchHits = 0
    /// Hits that had to wait for an unfinished prefetch read.
    public var prefetchWaits = 0
    /// Demand reads: the compute thread stalled on the disk (or page cache).
    public var misses = 0
    /// Reads started by the prefetcher.
    public var prefetchLoads = 0
    /// Prefetched experts evicted before any use.
    public var prefetchWasted = 0
    /// Bytes read from the checkpoint, by demand and prefetch reads.
    public var bytesRead = 0
    /// Misses (counted in `misses` too) computed from a low-precision copy while the full
    /// expert loaded in the background (`MissCopies`).
    public var lowPrecisionMisses = 0

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case requests, hits, prefetchHits, prefetchWaits, misses, prefetchLoads, prefetchWasted, bytesRead, lowPrecisionMisses
    }

    /// Records written before `lowPrecisionMisses` existed lack it: it reads as 0.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        for (key, counter) in zip(CodingKeys.allCases, Self.counters) {
            self[keyPath: counter] = key == .lowPrecisionMisses ? try container.decodeIfPresent(Int.self, forKey: key) ?? 0
                                                              : try container.decode(Int.self, forKey: key)
        }
    }

    public var hitRate: Double { requests > 0 ? Double(hits) / Double(requests) : 0 }

    /// Every counter, in `CodingKeys` order, so that sums and differences stay complete when a counter is added.
    private static let counters: [WritableKeyPath<Self, Int>] =
        [\.requests, \.hits, \.prefetchHits, \.prefetchWaits, \.misses, \.prefetchLoads, \.prefetchWasted, \.bytesRead, \.lowPrecisionMisses]

    private static func combine(_ a: Self, _ b: Self, _ operation: (Int, Int) -> Int) -> Self {
        var result = Self()
        for counter in counters { result[keyPath: counter] = operation(a[keyPath: counter], b[keyPath: counter]) }
        return result
    }

    public static func - (a: Self, b: Self) -> Self { combine(a, b, -) }
    public static func + (a: Self, b: Self) -> Self { combine(a, b, +) }
}

/// How well the prefetcher's guess of layer l's experts (layer l's router run on the hidden
/// state after layer l−1's attention) matched the experts layer l then computed.
public struct PredictionStatistics: Sendable, Codable, Equatable {
    /// FFN experts computed, per layer.
    public var actual: [Int]
    /// Of those, the ones that had been predicted, per layer.
    public var predicted: [Int]

    public init(layers: Int) {
        actual = [Int](repeating: 0, count: layers)
        predicted = [Int](repeating: 0, count: layers)
    }

    /// Per layer; nil for layer 0 (nothing runs before it to predict from) or no data.
    public var accuracy: [Double?] {
        zip(actual, predicted).enumerated().map { l, pair in l == 0 || pair.0 == 0 ? nil : Double(pair.1) / Double(pair.0) }
    }

    mutating func record(layer: Int, actual computed: Set<Int>, predicted guess: Set<Int>) {
        actual[layer] += computed.count
        predicted[layer] += computed.intersection(guess).count
    }
}
