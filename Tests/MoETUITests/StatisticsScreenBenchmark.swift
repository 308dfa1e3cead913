import Foundation
import Testing
import TestHelpers
@testable import MoEKit
@testable import MoETUI

/// How long a frame of the statistics screen takes in `moepp view` on a large trace, with the
/// statistics computed afresh each frame (as before `RoutingStatisticsCache`) and from the cache.
/// Prints figures for BENCHMARKS.md; what it holds is that the cached frame is the same picture.
/// Run: `MOEPP_STATS_BENCH_TOKENS=4096 swift test --skip-build --filter StatisticsScreenBenchmark`; without
/// it, 1024 tokens, so that the whole suite (where tmux tests run beside it) is not slowed much.
@Suite("Statistics screen frame time on a large trace")
struct StatisticsScreenBenchmark {
    /// `tokens` × 48 layers × 128 experts, top-8, with token ids: a trace shaped like an imported
    /// vLLM run of a large MoE. Ids from a fixed LCG, skewed so the heat map has structure.
    static func largeTrace(tokens: Int, layers: Int = 48, experts: Int = 128, topK: Int = 8) -> RoutingTrace {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        let ids = (0..<tokens).map { _ in
            (0..<layers).map { _ in
                var chosen: [Int] = []
                while chosen.count < topK {
                    let e = min(next(experts), next(experts))   // the minimum of two draws favours low ids
                    if !chosen.contains(e) { chosen.append(e) }
                }
                return chosen
            }
        }
        return RoutedExpertIDs(ids: ids, promptTokens: tokens / 4, tokenIds: (0..<tokens).map { _ in next(2000) })
            .trace(source: .vllm, model: "bench", experts: experts)
    }

    static func milliseconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    @Test("a redraw without new tokens reuses the statistics and draws the same picture")
    func frameTime() throws {
        let tokens = Int(ProcessInfo.processInfo.environment["MOEPP_STATS_BENCH_TOKENS"] ?? "") ?? 1024
        let state = TraceViewer.state(Self.largeTrace(tokens: tokens), name: "bench.json")
        let directory = ScratchSpace.directory + "moepp-stats-bench-\(UUID().uuidString.prefix(8))"
        func render() -> CellGrid { Screen.render(state, width: 140, height: 45, glyphs: .unicode) }

        // Before: every frame computes every statistic (a fresh cache each frame).
        var uncached: [Double] = []
        var fresh = ""
        for _ in 0..<3 {
            state.statisticsScreen = RoutingStatisticsScreenState(model: "bench", directory: directory)
            uncached.append(Self.milliseconds { fresh = render().text })
        }
        // After: the first frame fills the cache, redraws find it.
        state.statisticsScreen = RoutingStatisticsScreenState(model: "bench", directory: directory)
        let first = Self.milliseconds { _ = render() }
        var cached: [Double] = []
        var again = ""
        for _ in 0..<20 { cached.append(Self.milliseconds { again = render().text }) }
        #expect(again == fresh, "the cached frame is the same picture")
        #expect(again.contains("Routing statistics · bench · this trace · \(tokens) tokens"))
        // Moving to another expert computes only its top tokens.
        var moves: [Double] = []
        for _ in 0..<10 {
            state.statisticsScreen?.expert += 1
            moves.append(Self.milliseconds { _ = render() })
        }
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        print(String(format: "statistics screen, %d tokens × 48 layers × 128 experts, 140×45: uncached frame %.1f ms (median of %d); "
                     + "first cached frame %.1f ms; redraw %.2f ms (median of %d); → to the next expert %.2f ms (median of %d)",
                     tokens, median(uncached), uncached.count, first, median(cached), cached.count, median(moves), moves.count))
    }
}
