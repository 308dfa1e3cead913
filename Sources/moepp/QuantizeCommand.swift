import ArgumentParser
import Foundation
import MoEKit

/// `moepp quantize --type T IN OUT.gguf`: any model moepp reads, written as one GGUF file
/// (GGUFExport): llama.cpp's names and keys for Mixtral (`llama`) and OLMoE, ours for MoE++.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Write a model (safetensors, .bin or GGUF) as a GGUF file in a quantised or float format.",
        discussion: """
        Types: q8_0, q4_0, q4_k, q4_k_m and q5_k_m (llama.cpp's mixes over Q4_K and Q5_K: Q6_K for output and \
        for attn_v/ffn_down in some layers; with exactly 8 experts Q8_0 for attn_v/attn_k and Q5_K for \
        attn_output), f16, bf16, f32. Norms, routers, the gating residual and constant experts stay F32; rows that \
        are not whole blocks fall back as llama.cpp's do (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q8_0/Q4_0/Q5_x → F16), and each fallback is listed.
        """)

    @Option(help: "q8_0, q4_0, q4_k, q4_k_m, q5_k_m, f16, bf16 or f32.") var type: String
    @Flag(help: "Replace OUT if it exists.") var force = false
    @Flag(help: "Print each tensor as it is written.") var verbose = false
    @Argument(help: "The model: a checkpoint directory or a .gguf file.") var input: String
    @Argument(help: "The GGUF file to write.") var output: String

    func validate() throws {
        guard QuantizationType(rawValue: type.lowercased()) != nil else {
            throw ValidationError("--type: expected one of \(QuantizationType.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(type)\"")
        }
        guard output.lowercased().hasSuffix(".gguf") else { throw ValidationError("OUT: \(output) must end in .gguf") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw ValidationError("OUT: \(output) is a directory") }
            if !force { throw ValidationError("OUT: \(output) exists (pass --force to replace it)") }
        }
        let standardized = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        if standardized(input) == standardized(output) { throw ValidationError("OUT: \(output) is the input itself") }
        let parent = (output as NSString).deletingLastPathComponent
        guard access(parent.isEmpty ? "." : parent, W_OK) == 0 else {
            throw ValidationError("OUT: cannot write in \(parent.isEmpty ? "." : parent): \(String(cString: strerror(errno)))")
        }
    }

    func run() throws {
        let type = QuantizationType(rawValue: type.lowercased())!
        let source = try ModelSource(path: input)
        let config = try source.config()
        let export = try GGUFExport(config: config, weights: try source.weights(config: config), type: type)
        let tokenizer = try GGUFTokenizerExport.keys(source: source, config: config)
        if tokenizer == nil {
            FileHandle.standardError.write(Data("note: \(input) has no tokenizer; \(output) will carry none (token ids only)\n".utf8))
        }
        let name = ((input as NSString).lastPathComponent as NSString).deletingPathExtension
        let start = Date()
        let report = try export.write(to: output, name: name, tokenizer: tokenizer?.keys ?? []) { line in
            if verbose { print(line) }
        }
        var counts: [String: Int] = [:]
        for tensor in report.tensors { counts[tensor.used.name, default: 0] += 1 }
        print("wrote \(output): \(export.architecture), \(report.tensors.count) tensors (\(counts.keys.sorted().map { "\(counts[$0]!) \($0)" }.joined(separator: ", "))), "
              + String(format: "%.1f MB in %.1f s", Double(report.bytes) / 1e6, Date().timeIntervalSince(start)))
        print("tokenizer: \(tokenizer?.description ?? "none")")
        let fallbacks = report.fallbacks
        if !fallbacks.isEmpty {
            print("fallbacks (rows not whole blocks): \(fallbacks.count) tensors")
            for tensor in fallbacks.prefix(verbose ? fallbacks.count : 8) {
                print("  \(tensor.name) \(tensor.shape): \(tensor.wanted.name) → \(tensor.used.name)")
            }
            if !verbose && fallbacks.count > 8 { print("  … \(fallbacks.count - 8) more (--verbose lists all)") }
        }
    }
}
