import Foundation

/// A GGUF file read as a model: its `{arch}.*` metadata as a `ModelConfig` and its tensors under
/// the Hugging Face names the `Architecture` files use, so that families load unchanged.
///
/// Each architecture's keys and tensor names are one table (`GGUFArchitectures`: llama with
/// experts (Mixtral), olmoe, qwen2moe, qwen3moe, granitemoe, deepseek2 (DeepSeek-V2 or V3 by its
/// gating function), and our moepp), the same one `GGUFExport` writes through. The metadata is
/// translated key by key into the config.json keys of the family and decoded by the family's own
/// `decodeConfig`; errors name the GGUF key. Experts
/// stacked as 3-D `ffn_{gate,up,down}_exps` (experts × rows × cols) are viewed per expert in
/// place. Files whose q/k rows are permuted for ggml's adjacent-pair RoPE (llama, granitemoe) say
/// so in the config (`rotaryPairing = .adjacent`) instead of copying the rows back.
public enum GGUFModel {
    /// GGUF `general.architecture` → its table (`GGUFArchitectures`).
    static func architecture(_ file: GGUFFile) throws -> any GGUFArchitecture {
        let name = try file.metadata.string("general.architecture")
        guard let found = try GGUFArchitectures.of(file, named: name) else {
            let names = Array(NSOrderedSet(array: GGUFArchitectures.all.map(\.name))).map { "\($0)" }.joined(separator: ", ")
            throw file.metadata.fail("general.architecture", "architecture \"\(name)\" is not supported (moepp reads GGUF \(names))")
        }
        return found
    }

    /// The hyper-parameters, as the family's `decodeConfig` reads them from a config.json.
    public static func config(_ file: GGUFFile) throws -> ModelConfig {
        let metadata = file.metadata
        let table = try architecture(file)
        let arch = table.name, family = table.family
        var object: [String: Any] = ["model_type": family.architecture.modelTypes[0], "hidden_act": "silu"]
        var ggufKeyFor: [String: String] = [:]
        let keys = table.commonKeys + table.keys
        for key in keys where !key.json.isEmpty {
            let name = "\(arch).\(key.gguf)"
            ggufKeyFor[key.json] = name
            guard let value = metadata[name] else { continue }
            switch value {
            case .bool(let flag): object[key.json] = NSNumber(value: flag)
            case .float32, .float64: object[key.json] = NSNumber(value: try metadata.double(name))
            default: object[key.json] = NSNumber(value: try metadata.int(name))
            }
        }
        // Experts' width where the family has no key of its own for it: the MoE key when present
        // (llama.cpp writes it for families whose dense and expert widths differ).
        if !keys.contains(where: { $0.gguf == "expert_feed_forward_length" }), metadata.has("\(arch).expert_feed_forward_length") {
            object["intermediate_size"] = NSNumber(value: try metadata.int("\(arch).expert_feed_forward_length"))
            ggufKeyFor["intermediate_size"] = "\(arch).expert_feed_forward_length"
        }
        if object["vocab_size"] == nil {
            // Older files leave `{arch}.vocab_size` out: the embedding's rows, else the vocabulary.
            if let rows = file.tensors["token_embd.weight"]?.shape.first {
                object["vocab_size"] = NSNumber(value: rows)
            } else if let tokens = try metadata.array("tokenizer.ggml.tokens") {
                object["vocab_size"] = NSNumber(value: tokens.count)
            }
        }
        object["tie_word_embeddings"] = NSNumber(value: file.tensors["output.weight"] == nil)
        for (json, key) in [("bos_token_id", "tokenizer.ggml.bos_token_id"), ("eos_token_id", "tokenizer.ggml.eos_token_id")] where metadata.has(key) {
            object[json] = NSNumber(value: try metadata.int(key))
            ggufKeyFor[json] = key
        }
        try table.refuseUnimplemented(metadata)
        try table.fieldsFromFile(file, into: &object, keyFor: &ggufKeyFor)

        var config: ModelConfig
        do {
            config = try family.architecture.decodeConfig(JSONFields(object: object, file: file.path))
        } catch let error as CheckpointError {
            // "key 'hidden_size': …" → "metadata key 'llama.embedding_length': …"
            for (json, key) in ggufKeyFor where error.detail.hasPrefix("key '\(json)'") {
                throw CheckpointError(file: error.file, "metadata key '\(key)'" + error.detail.dropFirst("key '\(json)'".count))
            }
            throw error
        }
        try table.checkHeadSizes(metadata, config: config)
        if table.permutesQueryKey { config.rotaryPairing = .adjacent }
        return config
    }

    /// The file's tensors under Hugging Face names, through the architecture's table; 3-D expert
    /// tensors split into per-expert views (no copies). A tensor the table does not name is
    /// refused rather than ignored.
    public static func weights(_ file: GGUFFile, config: ModelConfig) throws -> CheckpointWeights {
        let table = try architecture(file)
        var entries: [String: GGUFTensor] = [:]
        for entry in GGUFTensor.head(config: config) + (0..<config.numLayers).flatMap({ table.blockTensors(layer: $0, config: config) + table.legacyTensors(layer: $0, config: config) })
            + GGUFTensor.tail(config: config) {
            entries[entry.name] = entry
        }
        var renamed: [String: TensorView] = [:]
        func add(_ name: String, _ view: TensorView, shape: [Int]? = nil, offset: Int = 0) {
            renamed[name] = TensorView(name: name, format: view.format, shape: shape ?? view.shape, base: view.base + offset, file: view.file)
        }
        for name in file.tensorNames {
            let view = file.tensors[name]!
            guard let entry = entries[name] else {
                if try legacyExpert(name, view, table: table, config: config, add: { add($0, view) }) { continue }
                throw CheckpointError(file: file.path, "tensor \(name.quotedForMessage) has no meaning for moepp's \(config.family) reader")
            }
            switch entry.parts {
            case .tensor(let hf): add(hf, view)
            case .halves(_, _, let readAs): add(readAs, view)
            case .latentUp(_, _, _, _, let readAs):
                // [H, r, nope] or [H, v, r] read as one matrix of H·r or H·v rows.
                guard view.shape == entry.shape else {
                    throw CheckpointError(file: file.path, "tensor \(name.quotedForMessage): shape \(view.shape), expected \(entry.shape)")
                }
                add(readAs, view, shape: [view.shape[0] * view.shape[1], view.shape[2]])
            case .experts(let names):
                guard view.shape.count >= 2, view.shape[0] == names.count else {
                    throw CheckpointError(file: file.path, "tensor \(name.quotedForMessage): shape \(view.shape), expected \(names.count) experts stacked on the first axis (\(entry.shape))")
                }
                let inner = Array(view.shape.dropFirst())
                let stride = inner.dropLast().reduce(1, *) * view.format.bytesPerRow(inner.last!)
                for (e, hf) in names.enumerated() { add(hf, view, shape: inner, offset: e * stride) }
            }
        }
        return CheckpointWeights(path: file.path, sources: [file], tensors: renamed)
    }

    /// Older Mixtral files: one tensor per expert, `blk.N.ffn_{gate,up,down}.E.weight`.
    static func legacyExpert(_ name: String, _ view: TensorView, table: any GGUFArchitecture, config: ModelConfig,
                             add: (String) -> Void) throws -> Bool {
        let pieces = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard table.name == "llama", pieces.count == 5, pieces[0] == "blk", pieces[4] == "weight",
              let l = Int(pieces[1]), l >= 0, l < config.numLayers, let e = Int(pieces[3]), e >= 0, e < config.numFFNExperts,
              case .separate(let gate, let up) = config.family.architecture.expertNames(layer: l, expert: e).gateUp else { return false }
        let down = config.family.architecture.expertNames(layer: l, expert: e).down
        guard let hf = ["ffn_gate": gate, "ffn_up": up, "ffn_down": down][pieces[2]] else { return false }
        add(hf)
        return true
    }
}
