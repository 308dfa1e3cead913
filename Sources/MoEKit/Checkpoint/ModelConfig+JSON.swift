import Foundation

extension ModelConfig {
    /// `config.json` in the family's own keys (the official MoE++ keys, or Mixtral's), so that the
    /// reference implementations would load what we write.
    public func jsonText() -> String {
        var fields: [(String, String)] = [
            ("vocab_size", "\(vocabSize)"), ("hidden_size", "\(hiddenSize)"), ("intermediate_size", "\(intermediateSize)"),
            ("num_hidden_layers", "\(numLayers)"), ("num_attention_heads", "\(numHeads)"),
            ("num_key_value_heads", "\(numKeyValueHeads)"), ("head_dim", "\(headDim)"), ("hidden_act", "\"silu\""),
            ("max_position_embeddings", "\(maxPositionEmbeddings)"), ("rms_norm_eps", "\(rmsNormEps)"),
            ("rope_theta", "\(ropeTheta)"), ("rope_scaling", yarn?.jsonText ?? "null"), ("tie_word_embeddings", "\(tieWordEmbeddings)"),
            ("bos_token_id", bosTokenId.map(String.init) ?? "null"),
            ("eos_token_id", eosTokenIds.count == 1 ? "\(eosTokenIds[0])" : "[\(eosTokenIds.map(String.init).joined(separator: ","))]"),
            ("torch_dtype", "\"float32\""),
        ]
        let architecture = family.architecture
        // A family's own spelling of a common key (Qwen's `intermediate_size` is the dense width) replaces it in place.
        var own = architecture.configFields(self)
        fields = fields.map { field in
            guard let index = own.firstIndex(where: { $0.key == field.0 }) else { return field }
            return (field.0, own.remove(at: index).value)
        }
        fields = [("model_type", "\"\(architecture.modelTypes[0])\""), ("architectures", "[\"\(architecture.transformersClass)\"]")] + fields + own.map { ($0.key, $0.value) }
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    public func write(to path: String) throws {
        try AtomicFile.write(Data(jsonText().utf8), to: path)
    }
}
