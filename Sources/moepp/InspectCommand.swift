import ArgumentParser
import Foundation
import MoEKit

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show a checkpoint's configuration, parameter counts and tensors.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "List every tensor with dtype and shape.") var tensors = false

    /// "8 FFN", "16 FFN + 2 constant + 1 copy + 1 zero", "6 FFN + 4 copy".
    func expertCounts(_ config: ModelConfig) -> String {
        ExpertKind.Category.allCases.compactMap { category in
            let count = config.expertKinds.filter { $0.category == category }.count
            return count > 0 ? "\(count) \(category == .ffn ? "FFN" : category.rawValue)" : nil
        }.joined(separator: " + ")
    }

    func run() throws {
        modelOptions.loadingOptions.applyInterleaving(expertCache: false)
        let model = try Transformer(directory: modelOptions.directory, loading: modelOptions.loading)
        let config = model.config
        let layout = CheckpointLayout(config: config)
        func millions(_ n: Int) -> String { String(format: "%.3fM", Double(n) / 1e6) }
        var lines = [
            "model       \(modelOptions.directory)",
            "family      \(config.family.rawValue)",
            "vocabulary  \(config.vocabSize)",
            "hidden      \(config.hiddenSize)   intermediate \(config.intermediateSize)   layers \(config.numLayers)",
            "heads       \(config.numHeads) (kv \(config.numKeyValueHeads), head \(config.headDim))   rope θ \(config.ropeTheta)   context \(config.maxPositionEmbeddings)",
            "experts     \(config.numExperts) per layer: " + expertCounts(config) + ", top-\(config.topK)",
            "gate        " + [config.gatingRule.description,
                              config.twoLayerGate ? "2-layer" : "linear",
                              config.useLogitsNorm ? "logits norm σ=\(config.gateNormStd)" : "no logits norm",
                              config.hasGatingResidual ? "gating residual" : "no gating residual",
                              config.multiplyInputByTopK ? "input ×k" : "input ×1"].joined(separator: ", "),
            "parameters  \(millions(layout.totalParameters)) total, \(millions(layout.parametersPerFFNExpert)) per FFN expert",
            "active      \(millions(layout.activeParameters(ffnExpertsPerLayer: Double(config.topK)))) per token with \(config.topK) FFN experts per layer"
                + (config.hasZeroComputationExperts ? ", \(millions(layout.activeParameters(ffnExpertsPerLayer: 1))) with 1, \(millions(layout.activeParameters(ffnExpertsPerLayer: 0))) with 0" : ""),
        ]
        if let mla = config.latentAttention {
            lines.insert("attention   MLA: q " + (mla.queryRank.map { "rank \($0)" } ?? "direct") + ", kv rank \(mla.kvRank), qk \(mla.nopeDim)+\(mla.ropeDim) (rope), v \(mla.valueDim); "
                         + "latent cache \(mla.latentCacheWidth) floats per token and layer" + (config.yarn.map { "; YaRN ×\($0.factor) from \($0.originalContext)" } ?? ""), at: 5)
        }
        if config.sharedExperts > 0 || !config.denseLayers.isEmpty {
            lines.append("always on   \(config.sharedExperts) shared expert(s) per MoE layer; dense layers \(config.denseLayers.sorted())")
        }
        let storedBytes = model.weights.files.reduce(0) { $0 + $1.size }
        lines.append("files       \(model.weights.files.count) file(s), \(String(format: "%.1f", Double(storedBytes) / 1e6)) MB")
        var formats: [String: Int] = [:]
        for name in model.weights.names { formats[model.weights.view(name)!.format.name, default: 0] += 1 }
        lines.append("formats     " + formats.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                     + " (tensors as --tensors lists them)")
        lines.append("layout      " + model.weights.layoutSummary)
        print(lines.joined(separator: "\n"))
        if tensors {
            for name in model.weights.names {
                let view = model.weights.view(name)!
                print("  \(name)  \(view.format.rawValue)  \(view.shape)")
            }
        }
    }
}
