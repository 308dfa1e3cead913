import Foundation
import Testing
@testable import MoEKit

/// Each import reads a committed sample (Fixtures/traces, `make trace-samples`) and round-trips:
/// sample → our trace → the engine's own shape again equals the sample; our trace format written
/// and read back equals itself.
@Suite("Trace imports")
struct TraceImportTests {
    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    @Test("vLLM: prompt and generated routed experts, token ids, back to the response's arrays")
    func vllm() throws {
        let path = TestSupport.fixture("traces/vllm-completion.json")
        let trace = try TraceReader.read(path: path)
        #expect(trace.source == .vllm && trace.model == "tiny-moe")
        #expect(trace.tokens.count == 8 && trace.layers == 3 && trace.topK == 2)
        #expect(trace.tokens.map(\.phase) == Array(repeating: "prompt", count: 5) + Array(repeating: "generated", count: 3))
        #expect(trace.tokens.map(\.tokenId) == [101, 7, 42, 9, 13, 55, 8, 3])
        #expect(!trace.hasProbabilities && !trace.hasWeights && !trace.hasZeroComputationKinds)
        let sample = try Self.json(path)
        let back = VLLMRoutedExperts.response(RoutedExpertIDs(trace), model: trace.model)
        #expect(back["prompt_routed_experts"] as? [[[Int]]] == sample["prompt_routed_experts"] as? [[[Int]]])
        let choice = (sample["choices"] as! [[String: Any]])[0], backChoice = (back["choices"] as! [[String: Any]])[0]
        #expect(backChoice["routed_experts"] as? [[[Int]]] == choice["routed_experts"] as? [[[Int]]])
        #expect(backChoice["token_ids"] as? [Int] == choice["token_ids"] as? [Int])
        try Self.ourFormatRoundTrips(trace)
        // A null prompt array (a request without prompt routing) is absent, not an error.
        let generatedOnly = try TraceReader.read(Data("{\"prompt_routed_experts\": null, \"choices\": [{\"routed_experts\": [[[0, 1]]]}]}".utf8), file: "n.json")
        #expect(generatedOnly.tokens.map(\.phase) == ["generated"])
    }

    @Test("SGLang: base64 int32 ids shaped by meta_info and the layer count, back to the same string")
    func sglang() throws {
        let path = TestSupport.fixture("traces/sglang-generate.json")
        let trace = try TraceReader.read(path: path, options: .init(shape: .init(layers: 3)))
        // prompt 5 + completion 4 − 1 rows; 8 rows × 3 layers × 2 = 48 ids.
        #expect(trace.source == .sglang && trace.tokens.count == 8 && trace.layers == 3 && trace.topK == 2)
        #expect(trace.tokens.filter { $0.phase == "prompt" }.count == 5)
        let meta = try Self.json(path)["meta_info"] as! [String: Any]
        let back = SGLangRoutedExperts.response(RoutedExpertIDs(trace))["meta_info"] as! [String: Any]
        #expect(back["routed_experts"] as? String == meta["routed_experts"] as? String)
        #expect(back["prompt_tokens"] as? Int == 5 && back["completion_tokens"] as? Int == 4)
        // top-k instead of layers gives the same split.
        let byTopK = try TraceReader.read(path: path, options: .init(shape: .init(topK: 2)))
        #expect(RoutedExpertIDs(byTopK) == RoutedExpertIDs(trace))
        try Self.ourFormatRoundTrips(trace)
    }

    @Test("SGLang without a layer count or top-k is a one-line error naming the field")
    func sglangNeedsShape() throws {
        let path = TestSupport.fixture("traces/sglang-generate.json")
        #expect(throws: TraceError(file: path, "at meta_info.routed_experts: the ids carry no shape: give the model's layer count or top-k (--layers L or --top-k K)")) {
            try TraceReader.read(path: path)
        }
        #expect(throws: TraceError(file: path, "at meta_info.routed_experts: 48 ids do not divide into 8 tokens × 5 layers")) {
            try TraceReader.read(path: path, options: .init(shape: .init(layers: 5)))
        }
    }

    @Test("transformers router_logits (the script's trace) chooses what moepp chooses on the same model")
    func transformers() throws {
        let trace = try TraceReader.read(path: TestSupport.fixture("traces/hf-mixtral-router-logits.json"))
        #expect(trace.source == .transformers && trace.model == "hf-mixtral" && trace.experts == 4 && trace.tokens.count == 10)
        #expect(trace.hasProbabilities && trace.hasWeights && !trace.hasZeroComputationKinds)
        let model = try Transformer(directory: TestSupport.fixture("hf-mixtral"))
        let output = try model.forward(trace.tokens.map(\.tokenId), cache: model.makeCache(), allLogits: true)
        for (t, token) in trace.tokens.enumerated() {
            for (l, layer) in token.layers.enumerated() {
                let ours = output.routing[t][l]
                #expect(Set(layer.chosen.map(\.index)) == Set(ours.chosen.map(\.index)), "token \(t) layer \(l)")
                #expect(TestSupport.close(layer.probabilities, ours.probabilities, relative: 1e-4), "token \(t) layer \(l)")
            }
        }
        try Self.ourFormatRoundTrips(trace)
    }

    @Test("bad traces are one-line errors naming the file and place")
    func badTraces() throws {
        func error(_ text: String) -> String {
            do { _ = try TraceReader.read(Data(text.utf8), file: "t.json"); return "no error" } catch { return "\(error)" }
        }
        #expect(error("") == "t.json: empty: expected a routing trace")
        #expect(error("{\"hello\": 1}").hasPrefix("t.json: not a routing trace"))
        #expect(error("{\"prompt_routed_experts\": [[[0, 1]], [[2]], 3]}") == "t.json: at prompt_routed_experts[2]: expected an array")
        #expect(error("{\"prompt_routed_experts\": [[[0, 1]], [[0, 1], [2, 3]]]}") == "t.json: at prompt_routed_experts[1]: 2 layers, but token 0 has 1")
        #expect(error("{\"prompt_routed_experts\": [[[0, 1.5]]]}") == "t.json: at prompt_routed_experts[0][0][1]: expected an integer")
        #expect(error("{\"prompt_routed_experts\": [[[0, -7]]]}") == "t.json: token 0, layer 0: expert id -7 is negative")
        #expect(error("{\"tokens\": [{\"position\": 0}]}") == "t.json: at tokens[0].tokenId: missing")
        #expect(error("{\"layers\": []}\n{\"position\": 1}\n") == "t.json: line 1: at position: missing")
        #expect(error("{\"tokens\": []}") == "t.json: the trace holds no tokens")
        #expect(error("{\"meta_info\": {\"routed_experts\": \"@@\"}}") == "t.json: at meta_info.routed_experts: not base64")
    }

    /// Our trace document written and read back holds the same choices and fields.
    static func ourFormatRoundTrips(_ trace: RoutingTrace) throws {
        let data = try trace.documentData()
        let again = try TraceReader.read(data, file: "again.json")
        #expect(again.source == trace.source && again.model == trace.model && again.experts == trace.experts)
        #expect(again.turns == trace.turns)
        #expect(RoutedExpertIDs(again) == RoutedExpertIDs(trace))
        #expect(again.tokens.map(\.text) == trace.tokens.map(\.text))
        #expect(again.tokens.flatMap { $0.layers.flatMap(\.probabilities) } == trace.tokens.flatMap { $0.layers.flatMap(\.probabilities) })
    }
}
