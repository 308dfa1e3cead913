import Foundation

/// SGLang's routed experts (`--enable-return-routed-experts`, `return_routed_experts: true` per
/// request): the `/generate` response's `meta_info.routed_experts` is a base64 string of
/// little-endian int32 ids, flattened from [seqlen − 1][num_hidden_layers][top_k]
/// (`extract_routed_experts_from_meta_info`; the last token is never run through the model, so
/// seqlen − 1 rows, seqlen = `prompt_tokens` + `completion_tokens`). The string carries no shape:
/// the token count comes from `meta_info`, and layers or top-k from the caller (the model's
/// `config.json`: `num_hidden_layers`, `num_experts_per_tok`). A batch (a JSON array of
/// responses) is read as consecutive turns.
public enum SGLangRoutedExperts {
    public struct Shape: Sendable {
        public var layers: Int?
        public var topK: Int?
        public init(layers: Int? = nil, topK: Int? = nil) { self.layers = layers; self.topK = topK }
    }

    static func matches(_ json: JSONValue) -> Bool {
        if json.has("meta_info") { return true }
        return json.array?.first.map { JSONValue(value: $0, path: "", file: json.file).has("meta_info") } ?? false
    }

    static func read(_ json: JSONValue, shape: Shape, experts: Int?) throws -> RoutingTrace {
        let responses = json.array != nil ? try json.elements() : [json]
        var tokens: [TokenRouting] = []
        var turns: [RoutingTrace.Turn] = []
        for response in responses {
            let routed = try ids(response, shape: shape)
            try VLLMRoutedExperts.checkRange(routed, experts: experts, response)
            tokens += routed.trace(source: .sglang, model: "", experts: experts).tokens
            turns.append(.init(prompt: "", reply: (try? response["text"].string()) ?? ""))
        }
        return RoutingTrace(source: .sglang, model: "", turns: turns, tokens: tokens, experts: experts)
    }

    static func ids(_ response: JSONValue, shape: Shape) throws -> RoutedExpertIDs {
        let meta = response["meta_info"]
        guard meta.has("routed_experts") else {
            throw meta.fail("no routed_experts (was the server started with --enable-return-routed-experts and the request sent with return_routed_experts?)")
        }
        let field = meta["routed_experts"]
        guard let bytes = Data(base64Encoded: try field.string()) else { throw field.fail("not base64") }
        guard bytes.count % 4 == 0 else { throw field.fail("\(bytes.count) bytes is not a whole number of int32 ids") }
        let flat: [Int] = bytes.withUnsafeBytes { raw in
            (0..<bytes.count / 4).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
        }
        let prompt = meta.has("prompt_tokens") ? try meta["prompt_tokens"].int() : nil
        let completion = meta.has("completion_tokens") ? try meta["completion_tokens"].int() : nil
        let rows = prompt.flatMap { p in completion.map { p + $0 - 1 } }
        let (tokens, layers, topK) = try split(flat.count, rows: rows, shape: shape, field)
        let ids = (0..<tokens).map { t in (0..<layers).map { l in Array(flat[(t * layers + l) * topK ..< (t * layers + l + 1) * topK]) } }
        var tokenIds: [Int]?
        if response.has("output_ids"), response.has("input_ids") {
            let all = try response["input_ids"].ints() + response["output_ids"].ints()
            if all.count >= tokens { tokenIds = Array(all.prefix(tokens)) }
        }
        return RoutedExpertIDs(ids: ids, promptTokens: min(prompt ?? tokens, tokens), tokenIds: tokenIds)
    }

    /// tokens × layers × top-k = ids, from whichever two the response and the caller give.
    static func split(_ count: Int, rows: Int?, shape: Shape, _ field: JSONValue) throws -> (Int, Int, Int) {
        func exact(_ a: Int, _ b: Int, _ what: String) throws -> Int {
            guard a > 0, b > 0, count % (a * b) == 0 else { throw field.fail("\(count) ids do not divide into \(what)") }
            return count / (a * b)
        }
        switch (rows, shape.layers, shape.topK) {
        case let (_, layers?, topK?): return (try exact(layers, topK, "\(layers) layers × top-\(topK)"), layers, topK)
        case let (rows?, layers?, nil): return (rows, layers, try exact(rows, layers, "\(rows) tokens × \(layers) layers"))
        case let (rows?, nil, topK?): return (rows, try exact(rows, topK, "\(rows) tokens × top-\(topK)"), topK)
        default: throw field.fail("the ids carry no shape: give the model's layer count or top-k (--layers L or --top-k K)")
        }
    }

    /// The response SGLang would have written for `routed` (the round trip's far side).
    public static func response(_ routed: RoutedExpertIDs) -> [String: Any] {
        var bytes = Data()
        for id in routed.ids.joined().joined() { withUnsafeBytes(of: Int32(id).littleEndian) { bytes.append(contentsOf: $0) } }
        return ["meta_info": ["prompt_tokens": routed.promptTokens, "completion_tokens": routed.ids.count - routed.promptTokens + 1,
                              "routed_experts": bytes.base64EncodedString()] as [String: Any]]
    }
}
