import ArgumentParser
import Foundation
import MoEKit

/// Where the model is; the bundled default when not given.
struct ModelOptions: ParsableArguments {
    static let bundledModel = "Assets/models/moepp-tiny"

    @Option(name: .shortAndLong, help: "Checkpoint directory (config.json, *.safetensors or *.bin, tokenizer.json or tokenizer.model) or a .gguf file. Default: $MOEPP_MODEL or \(bundledModel).")
    var model: String?

    @OptionGroup var loadingOptions: LoadingOptions

    var loading: WeightLoading { loadingOptions.loading }

    var directory: String {
        model ?? ProcessInfo.processInfo.environment["MOEPP_MODEL"] ?? Self.bundledModel
    }

    /// `expertCache`: whether an expert cache will be installed (its experts stay as stored).
    func loadGenerator(controls: LiveControls = LiveControls(), expertCache: Bool = false) throws -> Generator {
        guard FileManager.default.fileExists(atPath: directory) else {
            throw CheckpointError(file: directory, "no such model directory")
        }
        loadingOptions.applyInterleaving(expertCache: expertCache)
        return try Generator(directory: directory, loading: loading, controls: controls)
    }
}

/// The live toggles, as flags.
struct RoutingOptions: ParsableArguments {
    @Flag(name: .customLong("no-zero"), help: "Disable the zero (discard) expert.") var noZero = false
    @Flag(name: .customLong("no-copy"), help: "Disable the copy (skip) expert.") var noCopy = false
    @Flag(name: .customLong("no-constant"), help: "Disable the constant experts.") var noConstant = false
    @Option(name: .customLong("disable-expert"), help: "Disable expert index N (repeatable).") var disabledExperts: [Int] = []
    @Option(name: .customLong("experts-per-token"), help: "Router top-k (1…E); default: the model's.") var expertsPerToken: Int?
    @Flag(name: .customLong("no-gating-residual"), help: "Ignore MoE++ gating residuals.") var noGatingResidual = false
    @Option(name: .customLong("adaptive"), help: "AdapMoE adaptive gating with loss budget ε per token and layer (needs calibration.json; see `moepp calibrate`).")
    var adaptiveEpsilon: Double?

    func controls(for config: ModelConfig, modelDirectory: String) throws -> RoutingControls {
        var mask = ExpertMask()
        mask.zeroEnabled = !noZero
        mask.copyEnabled = !noCopy
        mask.constantEnabled = !noConstant
        for expert in disabledExperts {
            guard (0..<config.numExperts).contains(expert) else {
                throw ValidationError("--disable-expert \(expert): the model has experts 0…\(config.numExperts - 1)")
            }
            mask.disabledExperts.insert(expert)
        }
        if let k = expertsPerToken, !(1...config.numExperts).contains(k) {
            throw ValidationError("--experts-per-token \(k): must be within 1…\(config.numExperts)")
        }
        try mask.check(config)
        var adaptiveGate: AdaptiveGate?
        if let epsilon = adaptiveEpsilon {
            guard epsilon > 0, epsilon.isFinite else { throw ValidationError("--adaptive: ε must be a positive number") }
            if let reason = AdaptiveGate.inactiveReason(topK: expertsPerToken ?? config.topK) { throw ValidationError("--adaptive: \(reason)") }
            guard let calibration = try Calibrator.load(directory: modelDirectory) else {
                throw ValidationError("--adaptive: \(Calibrator.path(for: modelDirectory)) not found; run `moepp calibrate --model \(modelDirectory)` first")
            }
            guard calibration.layers.count == config.numLayers else {
                throw ValidationError("--adaptive: \(Calibrator.path(for: modelDirectory)) has \(calibration.layers.count) layers, the model \(config.numLayers)")
            }
            adaptiveGate = AdaptiveGate(calibration: calibration, epsilon: epsilon)
        }
        return RoutingControls(mask: mask, topK: expertsPerToken, gatingResidual: !noGatingResidual, adaptiveGate: adaptiveGate)
    }
}

struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy. Default: 0 for generate, 0.8 in the playground.") var temperature: Float?
    @Option(name: .customLong("top-k"), help: "Sample among the k most likely tokens (0: all).") var topK: Int?
    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold (1: off; the playground defaults to 0.95).") var topP: Float?
    @Option(help: "Random seed for sampling (the playground defaults to the clock).") var seed: UInt64?

    func validate() throws {
        if let temperature { guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0") } }
        if let topK { guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") } }
        if let topP { guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") } }
    }

    /// The flags given, the command's defaults for the rest.
    func settings(defaults: SamplingSettings = SamplingSettings()) -> SamplingSettings {
        SamplingSettings(temperature: temperature ?? defaults.temperature, topK: topK ?? defaults.topK,
                         topP: topP ?? defaults.topP, seed: seed ?? defaults.seed)
    }

    /// The playground samples by default: conversation reads better than greedy loops.
    static let playgroundDefaults = SamplingSettings(temperature: 0.8, topK: 0, topP: 0.95, seed: UInt64(Date().timeIntervalSince1970))
}

/// One JSON object per line, compact, keys sorted (stable for scripts and diffs). JSON has no
/// NaN or ±∞: routing records and logits write them as null (see `FiniteOrNull`); anything else
/// non-finite is refused with one line rather than written as a string or dropped.
enum JSONLines {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func print<T: Encodable>(_ value: T) {
        do {
            FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
        } catch {
            // Called from inside generation callbacks, which cannot throw: end the run here.
            var reason = "\(error)"
            if case EncodingError.invalidValue(let value, let context) = error {
                reason = "\(context.codingPath.map(\.stringValue).joined(separator: ".")) is \(value), which JSON cannot hold"
            }
            FileHandle.standardError.write(Data("moepp: cannot write JSON: \(reason)\n".utf8))
            Foundation.exit(1)
        }
    }
}
