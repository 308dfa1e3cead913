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

    public init() {}

    public var hitRate: Double { requests > 0 ? Double(hits) / Double(requests) : 0 }

    public static func - (a: Self, b: Self) -> Self {
        var d = Self()
        d.requests = a.requests - b.requests
        d.hits = a.hits - b.hits
        d.prefetchHits = a.prefetchHits - b.prefetchHits
        d.prefetchWaits = a.prefetchWaits - b.prefetchWaits
        d.misses = a.misses - b.misses
        d.prefetchLoads = a.prefetchLoads - b.prefetchLoads
        d.prefetchWasted = a.prefetchWasted - b.prefetchWasted
        d.bytesRead = a.bytesRead - b.bytesRead
        return d
    }

    public static func + (a: Self, b: Self) -> Self {
        var s = a
        s.requests += b.requests
        s.hits += b.hits
        s.prefetchHits += b.prefetchHits
        s.prefetchWaits += b.prefetchWaits
        s.misses += b.misses
        s.prefetchLoads += b.prefetchLoads
        s.prefetchWasted += b.prefetchWasted
        s.bytesRead += b.bytesRead
        return s
    }
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
