import Foundation

/// vLLM's routed experts (`vllm serve … --enable-return-routed-experts`), as its OpenAI-style
/// completion response carries them (docs.vllm.ai, "Routed Experts Replay"):
///   `prompt_routed_experts`: [prompt_len][num_moe_layers][top_k] expert ids (response level),
///   `choices[i].routed_experts`: [gen_len][num_moe_layers][top_k] (per completion),
/// plus, with `return_token_ids`, `prompt_token_ids` and `choices[i].token_ids`. The first
/// choice is imported; an offline dump with top-level `routed_experts` reads the same way.
public enum VLLMRoutedExperts {
    /// True when `json` looks like a vLLM response (either routing key, or `choices`).
    static func matches(_ json: JSONValue) -> Bool {
        json.has("prompt_routed_experts") || json.has("routed_experts") || json["choices"].array != nil
    }

    static func read(_ json: JSONValue, experts: Int?) throws -> RoutingTrace {
        let choice = json["choices"].array?.isEmpty == false ? try json["choices"].elements()[0] : json
        guard json.has("prompt_routed_experts") || choice.has("routed_experts") else {
            throw json.fail("no prompt_routed_experts or choices[0].routed_experts (was the server started with --enable-return-routed-experts?)")
        }
        let prompt = json.has("prompt_routed_experts") ? try json["prompt_routed_experts"].idArray() : []
        let generated = choice.has("routed_experts") ? try choice["routed_experts"].idArray() : []
        if let p = prompt.first, let g = generated.first, p.count != g.count {
            throw choice["routed_experts"].fail("\(g.count) layers, but prompt_routed_experts has \(p.count)")
        }
        let promptIds = choice.has("prompt_token_ids") ? try choice["prompt_token_ids"].ints()
            : json.has("prompt_token_ids") ? try json["prompt_token_ids"].ints() : nil
        let generatedIds = choice.has("token_ids") ? try choice["token_ids"].ints() : nil
        var tokenIds: [Int]?
        if let promptIds, let generatedIds, promptIds.count == prompt.count, generatedIds.count == generated.count { tokenIds = promptIds + generatedIds }
        let routed = RoutedExpertIDs(ids: prompt + generated, promptTokens: prompt.count, tokenIds: tokenIds)
        try checkRange(routed, experts: experts, json)
        var trace = routed.trace(source: .vllm, model: (try? json["model"].string()) ?? "", experts: experts)
        if let reply = try? choice["text"].string() { trace.turns = [.init(prompt: "", reply: reply)] }
        return trace
    }

    /// The response fields vLLM would have written for `routed` (the round trip's far side).
    public static func response(_ routed: RoutedExpertIDs, model: String) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "routed_experts": Array(routed.ids[routed.promptTokens...])]
        var response: [String: Any] = ["model": model, "prompt_routed_experts": Array(routed.ids[..<routed.promptTokens]), "choices": [choice]]
        if let ids = routed.tokenIds {
            choice["token_ids"] = Array(ids[routed.promptTokens...])
            response["choices"] = [choice]
            response["prompt_token_ids"] = Array(ids[..<routed.promptTokens])
        }
        return response
    }

    /// Ids must lie in [0, E) when E is known (−1: no expert in that slot).
    static func checkRange(_ routed: RoutedExpertIDs, experts: Int?, _ json: JSONValue) throws {
        for (t, layers) in routed.ids.enumerated() {
            for (l, slots) in layers.enumerated() {
                for id in slots where id < -1 || (experts.map { id >= $0 } ?? false) {
                    throw json.fail("token \(t), layer \(l): expert id \(id) " + (experts.map { "outside 0…\($0 - 1)" } ?? "is negative"))
                }
            }
        }
    }
}
