import Foundation
import Testing
@testable import MoEKit

/// Statistics over a hand-written trace, against numbers counted by hand (in the comments).
@Suite("Routing statistics")
struct RoutingStatisticsTests {
    /// 5 tokens × 3 layers, 4 FFN experts, top-2; the first id of a layer is its top-1.
    ///   token  text  L0     L1     L2
    ///   0      a     0,1    3,0    1,2
    ///   1      b     1,2    2,1    1,0
    ///   2      a     0,1    3,1    1,3
    ///   3      c     2,3    2,0    0,2
    ///   4      a     0,2    1,3    2,3
    static let routes: [(String, [[Int]])] = [
        ("a", [[0, 1], [3, 0], [1, 2]]), ("b", [[1, 2], [2, 1], [1, 0]]), ("a", [[0, 1], [3, 1], [1, 3]]),
        ("c", [[2, 3], [2, 0], [0, 2]]), ("a", [[0, 2], [1, 3], [2, 3]]),
    ]

    /// The trace as `moepp route` prints it: one JSON object per line.
    static var traceText: String {
        routes.enumerated().map { position, route in
            let layers = route.1.enumerated().map { layer, ids in
                let chosen = ids.map { "{\"index\":\($0),\"kind\":\"ffn\($0)\",\"weight\":0.5,\"dropped\":false}" }.joined(separator: ",")
                return "{\"layer\":\(layer),\"routerLogits\":[],\"residualLogits\":[],\"probabilities\":[],\"chosen\":[\(chosen)],"
                    + "\"probabilitiesWithoutResidual\":[],\"chosenWithoutResidual\":\(ids),\"ffnExpertsComputed\":2}"
            }.joined(separator: ",")
            return "{\"position\":\(position),\"tokenId\":\(position + 10),\"text\":\"\(route.0)\",\"phase\":\"prompt\",\"layers\":[\(layers)]}"
        }.joined(separator: "\n") + "\n"
    }

    static func trace() throws -> RoutingTrace {
        try TraceReader.read(Data(traceText.utf8), file: "hand.jsonl", options: .init(experts: 4))
    }

    @Test("usage heat map equals the hand count")
    func usage() throws {
        let usage = ExpertUsage(try Self.trace())
        // L0: e0 in tokens 0,2,4; e1 in 0,1,2; e2 in 1,3,4; e3 in 3.
        #expect(usage.counts == [[3, 3, 3, 1], [2, 3, 2, 3], [2, 3, 3, 2]])
        #expect(usage.tokens == [5, 5, 5])
        #expect(usage.share(layer: 0, expert: 3) == 0.2)
    }

    @Test("co-activation at layer 0 equals the hand count")
    func coActivation() throws {
        let matrix = CoActivation(try Self.trace(), layer: 0)
        // Pairs at L0: {0,1} twice (tokens 0, 2), {1,2} once, {2,3} once, {0,2} once.
        #expect(matrix.together == [[3, 2, 1, 0], [2, 3, 1, 0], [1, 1, 3, 1], [0, 0, 1, 1]])
        #expect(matrix.lift(0, 1) == 2.0 * 5 / (3 * 3))
        #expect(matrix.partners(of: 0, limit: 3).map(\.expert) == [1, 2])
    }

    @Test("next-layer predictability equals the hand count")
    func predictability() throws {
        let pairs = NextLayerPredictability(try Self.trace()).pairs
        // L0→L1: top-1 pairs (0,3) (1,2) (0,3) (2,2) (0,1): a=0 → 3 twice of 3, a=1 → 1, a=2 → 1: 4/5.
        //        L1's top-1s 3,2,3,2,1: the commonest (3 or 2) covers 2/5.
        // L1→L2: (3,1) (2,1) (3,1) (2,0) (1,2): a=3 → 2, a=2 → 1, a=1 → 1: 4/5; L2's 1,1,1,0,2: 3/5.
        #expect(pairs.map(\.layer) == [0, 1])
        #expect(pairs.map(\.predictability) == [0.8, 0.8])
        #expect(pairs.map(\.baseline) == [0.4, 0.6])
        #expect(pairs.map(\.tokens) == [5, 5])
    }

    @Test("an expert's top tokens equal the hand count")
    func topTokens() throws {
        let trace = try Self.trace()
        // L0 e0 fires on tokens 0, 2, 4: all three "a"s.
        #expect(ExpertTopTokens(trace, layer: 0, expert: 0).entries == [.init(token: "a", count: 3, of: 3)])
        // L0 e2 fires on 1 (b), 3 (c), 4 (a): one each, ties in text order.
        #expect(ExpertTopTokens(trace, layer: 0, expert: 2).entries == [.init(token: "a", count: 1, of: 3), .init(token: "b", count: 1, of: 1), .init(token: "c", count: 1, of: 1)])
    }

    @Test("the on-disk heat map counts each trace once, survives a save, and grows to a wider trace")
    func store() throws {
        let directory = TestSupport.temporaryDirectory()
        var store = try ExpertUsageStore.load(model: "hand/model", directory: directory)
        let trace = try Self.trace()
        let first = store.add(trace), second = store.add(trace)
        #expect(first && !second)
        try store.save(directory: directory)
        #expect(FileManager.default.fileExists(atPath: directory + "/hand_model.json"))
        var loaded = try ExpertUsageStore.load(model: "hand/model", directory: directory)
        #expect(loaded == store)
        // A second trace seen with six experts: the map widens, old counts stay.
        let wider = RoutingTrace(source: .vllm, model: "", tokens: [RoutedExpertIDs(ids: [[[5, 0]]], promptTokens: 1).trace(source: .vllm, model: "", experts: 6).tokens[0]])
        let added = loaded.add(wider)
        #expect(added)
        #expect(loaded.usage.counts[0] == [4, 3, 3, 1, 0, 1])
        #expect(loaded.usage.counts[1] == [2, 3, 2, 3, 0, 0])
        #expect(loaded.usage.tokens == [6, 5, 5])
    }

    @Test("a store file of another version or shape is refused in one line")
    func storeRefusesBadFiles() throws {
        let directory = TestSupport.temporaryDirectory()
        try Data("{\"version\":2,\"model\":\"m\",\"usage\":{\"counts\":[],\"tokens\":[]},\"traces\":[]}".utf8).write(to: URL(fileURLWithPath: directory + "/m.json"))
        #expect(throws: TraceError(file: directory + "/m.json", "version 2, this moepp reads version 1")) { try ExpertUsageStore.load(model: "m", directory: directory) }
        try Data("{\"version\":1,\"model\":\"m\",\"usage\":{\"counts\":[[1]],\"tokens\":[]},\"traces\":[]}".utf8).write(to: URL(fileURLWithPath: directory + "/m.json"))
        #expect(throws: TraceError.self) { try ExpertUsageStore.load(model: "m", directory: directory) }
    }

    @Test("SVG plots hold one cell per layer × expert and escape token text")
    func plots() throws {
        let trace = try Self.trace()
        let heat = RoutingPlots.heatMap(ExpertUsage(trace), title: "a <b> & c")
        #expect(heat.components(separatedBy: "<rect").count - 1 == 1 + 3 * 4)
        #expect(heat.contains("a &lt;b&gt; &amp; c"))
        #expect(heat.contains("layer 0, expert 3: 1 of 5 tokens (20.0%)"))
        let co = RoutingPlots.coActivation(CoActivation(trace, layer: 0), title: "L0")
        #expect(co.components(separatedBy: "<rect").count - 1 == 1 + 4 * 4)
        #expect(co.contains("experts 0 and 1: 2 tokens together, lift 1.11"))
    }
}
