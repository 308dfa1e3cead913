import ArgumentParser
import Foundation
import MoEKit

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure per-layer sensitivities on held-out text for AdapMoE adaptive gating; writes calibration.json beside the model.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Directory of held-out calibration .txt files.") var corpus = "corpus/calibration"
    @Option(name: .customLong("max-tokens"), help: "Calibrate on at most this many tokens.") var maxTokens = 16_384
    @Option(help: "Sequences per batch (activation memory grows with batch × length).") var batch = 4
    @Option(help: "Tokens per sequence, and per cache-profile chunk. Default: min(max_position_embeddings, 512).") var length: Int?
    @Option(name: .customLong("default-epsilon"), help: "ε the playground uses when adaptive gating is switched on.") var defaultEpsilon = 0.01

    func validate() throws {
        // Calibration pages the weights layer by layer (LayerwiseCalibration); there is no whole-model copy to make.
        guard !modelOptions.loadingOptions.noMmap else { throw ValidationError("--no-mmap does not apply to calibrate (it pages the weights layer by layer)") }
        guard !modelOptions.loadingOptions.refreshPageCache else { throw ValidationError("--refresh-page-cache does not apply to calibrate (it pages the weights layer by layer)") }
        guard maxTokens >= 2 else { throw ValidationError("--max-tokens: expected at least 2, found \(maxTokens)") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch: expected 1…4096, found \(batch)") }
        if let length { guard length >= 2 else { throw ValidationError("--length: expected at least 2, found \(length)") } }
        guard defaultEpsilon > 0, defaultEpsilon.isFinite else {
            throw ValidationError("--default-epsilon: ε must be a positive finite number, found \(defaultEpsilon)")
        }
    }

    func run() throws {
        modelOptions.loadingOptions.applyInterleaving(expertCache: false)
        let text = try corpusFiles(corpus).map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n")
        let calibration = try Calibrator.calibrate(directory: modelOptions.directory, text: text, maximumTokens: maxTokens,
                                                   batch: batch, length: length, defaultEpsilon: defaultEpsilon) { FileHandle.standardError.write(Data("\r\($0)".utf8)) }
        FileHandle.standardError.write(Data("\n".utf8))
        try Calibrator.save(calibration, directory: modelOptions.directory)
        print("layer  sensitivity F   expert difference D   threshold at ε=\(defaultEpsilon)")
        let gate = AdaptiveGate(calibration: calibration, epsilon: defaultEpsilon)
        for (l, layer) in calibration.layers.enumerated() {
            print(String(format: "%5d  %13.4e   %19.4f   %.3f", l, layer.sensitivity, layer.expertDifference, gate.threshold(layer: l)))
        }
        if let profile = calibration.cache {
            print("layer  prefetch accuracy  1 / ≥2 FFN experts  demand reads per token with c = 1…E slots (cache profile, \(profile.tokens) tokens)")
            for (l, layer) in profile.layers.enumerated() {
                let accuracy = layer.prefetchAccuracy.map { String(format: "%.3f", $0) } ?? "  —  "
                let curve = layer.demandReadsPerToken.dropFirst().map { String(format: "%.2f", $0) }.joined(separator: " ")
                print(String(format: "%5d  %17@  %.2f / %.2f         %@", l, accuracy, layer.singleExpertShare, layer.multipleExpertShare, curve))
            }
        }
        print("wrote \(Calibrator.path(for: modelOptions.directory)) (\(calibration.calibrationTokens) tokens)")
    }
}
