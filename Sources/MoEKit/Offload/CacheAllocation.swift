/// AdapMoE's per-layer cache sizing (adapmoe-spec §3): given each layer's demand-read curve
/// m_l(c) from a `CacheProfile`, choose the slots per layer that
///   minimise Σ_l m_l(c_l)   subject to   Σ_l c_l = B,  1 ≤ c_l ≤ E
/// by dynamic programming over layers and budget: best(l, b) = min_c m_l(c) + best(l+1, b−c).
public enum CacheAllocation {
    /// Slots per layer minimising the profile's expected demand reads within `budget` slots.
    public static func allocate(_ profile: CacheProfile, budget: Int) -> [Int] {
        let layerCount = profile.layers.count
        guard layerCount > 0 else { return [] }
        let maxPerLayer = profile.layers.map { $0.demandReadsPerToken.count - 1 }
        // best[l][b]: least cost of layers l… with b slots; choice[l][b]: c_l achieving it.
        var best = [[Double]](repeating: [Double](repeating: .infinity, count: budget + 1), count: layerCount + 1)
        var choice = [[Int]](repeating: [Int](repeating: 0, count: budget + 1), count: layerCount)
        for b in 0...budget { best[layerCount][b] = 0 }
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            for b in 0...budget {
                for c in 1...max(1, min(maxPerLayer[l], b)) where c <= b {
                    let cost = profile.layers[l].demandReadsPerToken[c] + best[l + 1][b - c]
                    if cost < best[l][b] { best[l][b] = cost; choice[l][b] = c }
                }
            }
        }
        var capacities: [Int] = []
        var remaining = budget
        for l in 0..<layerCount {
            let c = max(1, choice[l][remaining])
            capacities.append(c)
            remaining -= c
        }
        return capacities
    }
}
