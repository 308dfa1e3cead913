import Foundation

/// A checkpoint served with its large matrices in a block format, quantised in memory at load
/// (a tile of rows at a time, by the reference quantisers): how `moepp bench --quantize` compares
/// bf16, Q8_0 and Q4_K on one synthetic model, whose safetensors cannot hold blocks. The
/// quantised copies live on the heap, so such a model cannot offload experts (ExpertStore says so).
public enum InMemoryQuantization {
    /// Roles whose matrices are quantised: those decode streams every token. Routers and gating
    /// residuals stay as stored: they are small and routing decisions are sensitive to them
    /// (llama.cpp's converters also keep `ffn_gate_inp` in f32).
    public static let roles: Set<CheckpointLayout.Role> = [.embedding, .attention, .ffnExpert, .lmHead]

    public static func load(directory: String, format: WeightFormat) throws -> Transformer {
        guard canQuantize(to: format) else { throw CheckpointError(file: directory, "cannot quantise to \(format.name)") }
        let config = try ModelConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
        let quantized = Set(CheckpointLayout(config: config).entries.filter { roles.contains($0.role) }.map(\.name))
        let weights = try CheckpointWeights(directory: directory)
        weights.transformMatrix = { name, matrix in
            quantized.contains(name) && matrix.format.elementsPerBlock == 1 && format.canHoldRow(of: matrix.cols)
                ? matrix.quantized(to: format) : matrix
        }
        return try Transformer(config: config, weights: weights)
    }
}

extension Transformer {
    /// Bytes of the matrices a quantisation replaces (embedding, attention, FFN experts, lm_head),
    /// as the model holds them: what `moepp bench --quantize` reports as weights.
    public var quantizableMatrixBytes: Int {
        blocks.reduce(embedding.byteCount + lmHead.byteCount) { total, block in
            let attention = block.attention.matrixBytes
            let experts: Int = block.moe?.ffnExperts.reduce(0) { $0 + $1.byteCount } ?? 0
            return total + attention + experts
        }
    }

    /// The embedding's format: for a model quantised in memory, the block format; else as stored.
    public var embeddingFormat: WeightFormat { embedding.format }
}
