import Foundation

/// Writes a small, complete checkpoint directory (config.json, model.safetensors, tokenizer.json)
/// with seeded random weights: the engine's tests, `moepp bench --synthetic` and the trainer's
/// initialisation share it. Router weights are drawn larger than the rest so that different
/// tokens really do pick different experts.
public enum RandomCheckpoint {
    /// A byte-level tokenizer: the 256 byte symbols, a few English merges, and `<|endoftext|>`.
    public static let fixtureMerges: [(String, String)] = [
        ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("e", "r"), ("a", "n"), ("Ġ", "a"), ("o", "n"),
        ("Ġ", "s"), ("r", "e"), ("o", "u"), ("Ġ", "w"), ("n", "d"), ("Ġa", "nd"), ("Ġ", "o"), ("i", "s"),
    ]

    public static func fixtureTokens() -> [String] {
        ByteLevelAlphabet.characterForByte.map(String.init) + fixtureMerges.map { $0.0 + $0.1 }
    }

    public static func tinyConfig(_ family: ModelFamily, hidden: Int = 32, layers: Int = 2, ffnExperts: Int = 4,
                                  intermediate: Int? = nil, heads: Int = 4) -> ModelConfig {
        let vocab = fixtureTokens().count + 1
        var config = ModelConfig(family: family, vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate ?? hidden * 2,
                                 numLayers: layers, numHeads: heads, numKeyValueHeads: max(1, heads / 2),
                                 numExperts: family == .moepp ? ffnExperts + 4 : ffnExperts, topK: 2,
                                 ropeTheta: 10_000, rmsNormEps: 1e-5, maxPositionEmbeddings: 512)
        config.eosTokenIds = [vocab - 1]
        if family == .moepp { config.useLogitsNorm = true; config.gateNormStd = 1 }
        return config
    }

    public static func write(config: ModelConfig, to directory: String, seed: UInt64, dtype: WeightFormat = .f32) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var random = SeededRandom(seed: seed)
        var writer = SafeTensorsWriter()
        for entry in CheckpointLayout(config: config).entries {
            let values: [Float]
            switch entry.role {
            case .norm: values = (0..<entry.count).map { _ in 1 + 0.1 * random.normal() }
            case .router: values = random.normals(entry.count, scale: 1 / Float(entry.shape[1]).squareRoot() * 2)
            case .gatingResidual: values = random.normals(entry.count, scale: 0.3)
            case .constantExpert: values = random.normals(entry.count, scale: 0.5)
            default: values = random.normals(entry.count, scale: 1 / Float(entry.shape.last!).squareRoot())
            }
            writer.add(entry.name, shape: entry.shape, values: values, dtype: dtype)
        }
        try writer.write(to: (directory as NSString).appendingPathComponent("model.safetensors"))
        try config.write(to: (directory as NSString).appendingPathComponent("config.json"))
        precondition(config.vocabSize == fixtureTokens().count + 1, "fixture tokenizer has \(fixtureTokens().count + 1) tokens")
        try Tokenizer.writeByteLevel(tokens: fixtureTokens(), merges: fixtureMerges, specialTokens: ["<|endoftext|>"],
                                     to: (directory as NSString).appendingPathComponent("tokenizer.json"))
    }
}
