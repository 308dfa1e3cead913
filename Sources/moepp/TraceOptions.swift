import ArgumentParser
import MoEKit

/// What a trace may not say about itself (vLLM's and SGLang's arrays carry only expert ids):
/// shared by `moepp stats` and `moepp view`.
struct TraceOptions: ParsableArguments {
    @Option(help: "Router slots per layer (ids must be below it); default: the highest id seen + 1.") var experts: Int?
    @Option(help: "The model's layer count (SGLang's flat ids need this or --top-k).") var layers: Int?
    @Option(name: .customLong("top-k"), help: "The model's experts per token (SGLang's flat ids need this or --layers).") var topK: Int?
    @Option(name: .customLong("model-id"), help: "Names the model when the trace does not (the on-disk heat map's file name).") var modelId: String?

    func validate() throws {
        for (name, value) in [("--experts", experts), ("--layers", layers), ("--top-k", topK)] {
            if let value, value < 1 || value > 1 << 16 { throw ValidationError("\(name): expected 1…65536, found \(value)") }
        }
    }

    var reader: TraceReader.Options {
        TraceReader.Options(experts: experts, shape: .init(layers: layers, topK: topK), model: modelId)
    }

    func read(_ paths: [String]) throws -> [RoutingTrace] { try paths.map { try TraceReader.read(path: $0, options: reader) } }
}
