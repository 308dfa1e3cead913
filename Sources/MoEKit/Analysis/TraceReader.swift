import Foundation

/// Reads any routing trace moepp knows, telling the forms apart by their shape:
/// - moepp's trace document (`/export`, the session autosave, Scripts/hf_router_logits_trace.py):
///   an object with `tokens` (and optional `source`, `model`, `experts`, `turns`);
/// - `moepp route` / `generate --json` output: one token object per line (or a JSON array of them);
/// - vLLM's completion response with routed experts (`VLLMRoutedExperts`);
/// - SGLang's `/generate` response with routed experts (`SGLangRoutedExperts`).
/// - a saved session (`/save`, the autosave): its `model` is an object, read by `PlaygroundSession`.
public enum TraceReader {
    /// What the caller knows that a source may not carry.
    public struct Options: Sendable {
        /// Router slots per layer (ids must be below it); nil: the highest id seen + 1.
        public var experts: Int?
        /// SGLang's flat ids: the model's layer count or top-k.
        public var shape = SGLangRoutedExperts.Shape()
        /// Names the model when the trace does not.
        public var model: String?
        public init(experts: Int? = nil, shape: SGLangRoutedExperts.Shape = .init(), model: String? = nil) {
            self.experts = experts
            self.shape = shape
            self.model = model
        }
    }

    public static func read(path: String, options: Options = Options()) throws -> RoutingTrace {
        let data: Data
        do { data = try SmallFile.contents(path, maximumBytes: 1 << 31) } catch let error as CheckpointError {
            throw TraceError(file: path, error.detail)
        }
        return try read(data, file: path, options: options)
    }

    public static func read(_ data: Data, file: String, options: Options = Options()) throws -> RoutingTrace {
        guard let first = data.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else {
            throw TraceError(file: file, "empty: expected a routing trace")
        }
        var trace: RoutingTrace
        if first == UInt8(ascii: "{"), let line = singleLineObjects(data), line.count > 1 || isTokenObject(line[0]) {
            trace = try tokenLines(line, file: file, experts: options.experts)
        } else {
            let json = try JSONValue.parse(data, file: file)
            if json.has("tokens") && PlaygroundSession.looksLikeSession(json) {
                trace = try PlaygroundSession.decode(data, file: file).routingTrace
            } else if json.has("tokens") {
                trace = try document(data, file: file, experts: options.experts)
            } else if SGLangRoutedExperts.matches(json) {
                trace = try SGLangRoutedExperts.read(json, shape: options.shape, experts: options.experts)
            } else if VLLMRoutedExperts.matches(json) {
                trace = try VLLMRoutedExperts.read(json, experts: options.experts)
            } else if json.array != nil {
                trace = try tokenArray(data, file: file, experts: options.experts)
            } else {
                throw TraceError(file: file, "not a routing trace: expected moepp's trace (tokens), `moepp route` lines, or vLLM/SGLang routed experts")
            }
        }
        if let model = options.model { trace.model = model }
        guard !trace.tokens.isEmpty else { throw TraceError(file: file, "the trace holds no tokens") }
        return trace
    }

    /// moepp's trace document. `source` and `experts` are written by the HF script; exports from
    /// the playground have neither (moepp, experts from the records).
    struct Document: Decodable {
        var source: RoutingTrace.Source?
        var model: String?
        var experts: Int?
        var turns: [RoutingTrace.Turn]?
        var tokens: [TokenRouting]
    }

    static func document(_ data: Data, file: String, experts: Int?) throws -> RoutingTrace {
        do {
            let document = try JSONDecoder().decode(Document.self, from: data)
            return RoutingTrace(source: document.source ?? .moepp, model: document.model ?? "", turns: document.turns ?? [],
                                tokens: document.tokens, experts: experts ?? document.experts)
        } catch { throw TraceError.decoding(error, file: file) }
    }

    static func tokenArray(_ data: Data, file: String, experts: Int?) throws -> RoutingTrace {
        do { return RoutingTrace(source: .moepp, model: "", tokens: try JSONDecoder().decode([TokenRouting].self, from: data), experts: experts) } catch {
            throw TraceError.decoding(error, file: file)
        }
    }

    static func tokenLines(_ lines: [Data], file: String, experts: Int?) throws -> RoutingTrace {
        let decoder = JSONDecoder()
        var tokens: [TokenRouting] = []
        for (number, line) in lines.enumerated() {
            do { tokens.append(try decoder.decode(TokenRouting.self, from: line)) } catch {
                let inner = TraceError.decoding(error, file: file)
                throw TraceError(file: file, "line \(number + 1): \(inner.detail)")
            }
        }
        return RoutingTrace(source: .moepp, model: "", tokens: tokens, experts: experts)
    }

    /// The non-empty lines when every one starts an object (JSON lines); nil otherwise.
    static func singleLineObjects(_ data: Data) -> [Data]? {
        let lines = data.split(separator: 0x0A).filter { line in line.contains { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 } }
        guard lines.allSatisfy({ $0.first(where: { $0 != 0x20 && $0 != 0x09 }) == UInt8(ascii: "{") }) else { return nil }
        return lines.map { Data($0) }
    }

    static func isTokenObject(_ line: Data) -> Bool {
        (try? JSONValue.parse(line, file: ""))?.has("layers") ?? false
    }
}
