import Foundation

/// A GGUF file read as a model: its `{arch}.*` metadata as a `ModelConfig` and its tensors under
/// the Hugging Face names the `Architecture` files use, so that families load unchanged.
///
/// Architectures: `llama` with experts (Mixtral), `olmoe`, and our `moepp` (written by
/// `moepp quantize`, see GGUFExport; fused gate|up, constant experts). The metadata is translated key by
/// key into the config.json keys of the family (`GGUFModel.configKeys`) and decoded by the
/// family's own `decodeConfig`; errors name the GGUF key. Names follow llama.cpp's
/// `convert_hf_to_gguf.py` (gguf-py `TensorNameMap`): `token_embd`, `blk.N.attn_q` …, experts
/// stacked as 3-D `ffn_{gate,up,down}_exps` (experts × rows × cols) and viewed per expert in place.
/// `llama` files carry q/k rows permuted for ggml's adjacent-pair RoPE: the config says so
/// (`rotaryPairing = .adjacent`) instead of copying the rows back (see RotaryEmbedding).
public enum GGUFModel {
    /// GGUF `general.architecture` → the family read from it.
    static func family(_ file: GGUFFile) throws -> ModelFamily {
        let architecture = try file.metadata.string("general.architecture")
        switch architecture {
        case "llama":
            guard try file.metadata.int("llama.expert_count", default: 0) > 0 else {
                throw file.metadata.fail("llama.expert_count", "a dense llama model (no experts); moepp runs mixture-of-experts models")
            }
            return .mixtral
        case "olmoe": return .olmoe
        case "moepp": return .moepp
        default:
            throw file.metadata.fail("general.architecture", "architecture \"\(architecture)\" is not supported (moepp reads GGUF llama with experts, olmoe, moepp)")
        }
    }

    /// config.json key ← GGUF key (after `{arch}.`), for every hyper-parameter read.
    static func configKeys(_ family: ModelFamily) -> [(json: String, gguf: String)] {
        var keys: [(String, String)] = [
            ("hidden_size", "embedding_length"), ("num_hidden_layers", "block_count"),
            ("num_attention_heads", "attention.head_count"), ("num_key_value_heads", "attention.head_count_kv"),
            ("head_dim", "attention.key_length"), ("rope_theta", "rope.freq_base"),
            ("rms_norm_eps", "attention.layer_norm_rms_epsilon"), ("max_position_embeddings", "context_length"),
            ("vocab_size", "vocab_size"), ("num_experts_per_tok", "expert_used_count"),
        ]
        if family == .olmoe {
            keys += [("num_experts", "expert_count"), ("norm_topk_prob", "expert_weights_norm"), ("clip_qkv", "attention.clamp_kqv")]
        } else if family == .moepp {
            keys += [("num_experts", "expert_count"), ("moe_use_logits_norm", "expert_logits_norm"),
                     ("moe_gate_norm_std", "expert_logits_norm_std"), ("moe_use_mixtral_gating", "expert_gating_mixtral")]
        } else {
            keys += [("num_local_experts", "expert_count")]
        }
        return keys
    }

    /// The hyper-parameters, as the family's `decodeConfig` reads them from a config.json.
    public static func config(_ file: GGUFFile) throws -> ModelConfig {
        let metadata = file.metadata
        let family = try family(file)
        let arch = try metadata.string("general.architecture")
        var object: [String: Any] = ["model_type": family.architecture.modelTypes[0], "hidden_act": "silu"]
        var ggufKeyFor: [String: String] = [:]
        for (json, suffix) in configKeys(family) {
            let key = "\(arch).\(suffix)"
            ggufKeyFor[json] = key
            guard let value = metadata[key] else { continue }
            switch value {
            case .bool(let flag): object[json] = NSNumber(value: flag)
            case .float32, .float64: object[json] = NSNumber(value: try metadata.double(key))
            default: object[json] = NSNumber(value: try metadata.int(key))
            }
        }
        // Experts' width: the MoE key when present (llama.cpp writes it for families whose
        // dense and expert widths differ), else the feed-forward length.
        ggufKeyFor["intermediate_size"] = "\(arch).feed_forward_length"
        for suffix in ["expert_feed_forward_length", "feed_forward_length"] where metadata.has("\(arch).\(suffix)") {
            object["intermediate_size"] = NSNumber(value: try metadata.int("\(arch).\(suffix)"))
            ggufKeyFor["intermediate_size"] = "\(arch).\(suffix)"
            break
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
        try refuseUnimplemented(metadata, arch: arch, headDim: object["head_dim"] as? NSNumber)
        if family == .moepp { try moeppFields(metadata, into: &object, keyFor: &ggufKeyFor) }

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
        if metadata.has("\(arch).attention.value_length"), try metadata.int("\(arch).attention.value_length") != config.headDim {
            throw metadata.fail("\(arch).attention.value_length", "differs from the key length \(config.headDim) (moepp needs equal head sizes)")
        }
        if metadata.has("\(arch).rope.dimension_count"), try metadata.int("\(arch).rope.dimension_count") != config.headDim {
            throw metadata.fail("\(arch).rope.dimension_count", "partial rotary embeddings are not implemented (head size \(config.headDim))")
        }
        if arch == "llama" { config.rotaryPairing = .adjacent }
        return config
    }

    /// MoE++'s own keys (GGUFExport.moeppKeys; README "MoE++ in GGUF"): the expert layout must be
    /// the family's (E−4 FFN experts, 2 constant, 1 copy, 1 zero, gate|up fused, a gating
    /// residual); the router's depth and the input scaling become config.json's keys.
    static func moeppFields(_ metadata: GGUFMetadata, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        let experts = try metadata.int("moepp.expert_count")
        for (suffix, expected) in [("expert_ffn_count", experts - 4), ("expert_constant_count", 2), ("expert_copy_count", 1), ("expert_zero_count", 1)] {
            let key = "moepp.\(suffix)"
            guard try metadata.int(key) == expected else {
                throw metadata.fail(key, "\(try metadata.int(key)); MoE++ with \(experts) router slots has \(expected) (slots: FFN experts, 2 constant, copy, zero)")
            }
        }
        for key in ["moepp.expert_gating_residual", "moepp.expert_gate_up_fused"] where !(try metadata.bool(key, default: false)) {
            throw metadata.fail(key, "missing or false; moepp reads MoE++ files with a gating residual and fused gate|up experts")
        }
        let layers = try metadata.int("moepp.expert_router_layers", default: 1)
        guard layers == 1 || layers == 2 else { throw metadata.fail("moepp.expert_router_layers", "\(layers); expected 1 or 2") }
        object["moe_2layer_gate"] = NSNumber(value: layers == 2)
        object["moe_feature_no_mul_topk"] = NSNumber(value: !(try metadata.bool("moepp.expert_input_scale_topk", default: false)))
        keyFor["moe_feature_no_mul_topk"] = "moepp.expert_input_scale_topk"
    }

    /// Metadata that changes the computation in ways moepp does not implement: refused in one
    /// line rather than run wrongly.
    static func refuseUnimplemented(_ metadata: GGUFMetadata, arch: String, headDim: NSNumber?) throws {
        let scaling = "\(arch).rope.scaling.type"
        if metadata.has(scaling), try metadata.string(scaling) != "none" {
            throw metadata.fail(scaling, "RoPE scaling \"\(try metadata.string(scaling))\" is not implemented (moepp runs plain RoPE only)")
        }
        for (suffix, allowed) in [("expert_shared_count", 0.0), ("leading_dense_block_count", 0.0), ("expert_gating_func", 1.0),
                                  ("expert_weights_scale", 1.0)] where metadata.has("\(arch).\(suffix)") {
            let value = try metadata.double("\(arch).\(suffix)")
            guard value == allowed else { throw metadata.fail("\(arch).\(suffix)", "\(value) is not implemented for \(arch) (expected \(allowed))") }
        }
    }

    /// The file's tensors under Hugging Face names; 3-D expert tensors split into per-expert
    /// views (no copies). A tensor this reader has no name for is refused rather than ignored.
    public static func weights(_ file: GGUFFile, config: ModelConfig) throws -> CheckpointWeights {
        let architecture = config.family.architecture
        var renamed: [String: TensorView] = [:]
        func add(_ name: String, _ view: TensorView) {
            renamed[name] = TensorView(name: name, format: view.format, shape: view.shape, base: view.base, file: view.file)
        }
        func expertName(_ l: Int, _ e: Int, _ matrix: String) throws -> String {
            let names = architecture.expertNames(layer: l, expert: e)
            if matrix == "down" { return names.down }
            guard case .separate(let gate, let up) = names.gateUp else {
                throw CheckpointError(file: file.path, "family \(config.family) fuses gate and up; no GGUF mapping")
            }
            return ["gate": gate, "up": up, "down": names.down][matrix]!
        }
        let skeleton = TensorNames(family: config.family)
        let moepp = architecture as? MoEPlusPlusArchitecture
        for name in file.tensorNames {
            let view = file.tensors[name]!
            func unknown() -> CheckpointError {
                CheckpointError(file: file.path, "tensor \(name.quotedForMessage) has no meaning for moepp's \(config.family) reader")
            }
            switch name {
            case "token_embd.weight": add(TensorNames.embedding, view)
            case "output_norm.weight": add(TensorNames.finalNorm, view)
            case "output.weight": add(TensorNames.lmHead, view)
            default:
                // blk.N.<part>.weight
                let pieces = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard pieces.count >= 4, pieces[0] == "blk", let l = Int(pieces[1]), l >= 0, l < 1 << 16, pieces.last == "weight" else { throw unknown() }
                let part = pieces[2]
                if pieces.count == 5 {
                    // Older Mixtral files: one tensor per expert, blk.N.ffn_gate.E.weight.
                    guard let e = Int(pieces[3]), e >= 0, e < 1 << 16, ["ffn_gate", "ffn_up", "ffn_down"].contains(part) else { throw unknown() }
                    add(try expertName(l, e, String(part.dropFirst(4))), view)
                    continue
                }
                guard pieces.count == 4 else { throw unknown() }
                switch part {
                case "attn_q": add(skeleton.attention(l, "q_proj"), view)
                case "attn_k": add(skeleton.attention(l, "k_proj"), view)
                case "attn_v": add(skeleton.attention(l, "v_proj"), view)
                case "attn_output": add(skeleton.attention(l, "o_proj"), view)
                case "attn_norm": add(skeleton.inputNorm(l), view)
                case "ffn_norm": add(skeleton.postAttentionNorm(l), view)
                case "attn_q_norm": add(skeleton.queryNorm(l), view)
                case "attn_k_norm": add(skeleton.keyNorm(l), view)
                case "ffn_gate_inp": add(architecture.routerName(layer: l), view)
                case "ffn_gate_inp_0", "ffn_gate_inp_2":
                    guard let moepp else { throw unknown() }
                    add(moepp.twoLayerRouterName(layer: l, stage: part == "ffn_gate_inp_0" ? 0 : 2), view)
                case "ffn_gate_res":
                    guard let moepp else { throw unknown() }
                    add(moepp.gatingResidualName(layer: l), view)
                case "ffn_gate_up_exps":
                    // MoE++: each expert's gate rows then up rows, one (2I)×d matrix (its up_proj).
                    guard let moepp, view.shape.count == 3, view.shape[0] == config.numFFNExperts else { throw unknown() }
                    let stride = view.shape[1] * view.format.bytesPerRow(view.shape[2])
                    for e in 0..<view.shape[0] {
                        guard case .fused(let name) = moepp.expertNames(layer: l, expert: e).gateUp else { throw unknown() }
                        renamed[name] = TensorView(name: name, format: view.format, shape: [view.shape[1], view.shape[2]], base: view.base + e * stride, file: view.file)
                    }
                case "ffn_const_exps", "ffn_const_gate_exps":
                    // MoE++'s two constant experts (slots E−4, E−3): vectors [2, d], mixing [2, 2, d].
                    let vectors = part == "ffn_const_exps"
                    guard let moepp, view.shape.count == (vectors ? 2 : 3), view.shape[0] == 2 else { throw unknown() }
                    let inner = Array(view.shape.dropFirst())
                    let stride = inner.dropLast().reduce(1, *) * view.format.bytesPerRow(inner.last!)
                    for (c, slot) in moepp.constantSlots(config.numExperts).enumerated() {
                        let name = vectors ? moepp.constantVectorName(layer: l, expert: slot) : moepp.constantMixingName(layer: l, expert: slot)
                        renamed[name] = TensorView(name: name, format: view.format, shape: inner, base: view.base + c * stride, file: view.file)
                    }
                case "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps":
                    guard view.shape.count == 3 else {
                        throw CheckpointError(file: file.path, "tensor \(name.quotedForMessage): shape \(view.shape), expected experts × rows × cols")
                    }
                    let (experts, rows, cols) = (view.shape[0], view.shape[1], view.shape[2])
                    guard experts == config.numFFNExperts else {
                        throw CheckpointError(file: file.path, "tensor \(name.quotedForMessage): \(experts) experts, but \(file.metadata.keys.first { $0.hasSuffix(".expert_count") } ?? "expert_count") says \(config.numFFNExperts)")
                    }
                    let stride = rows * view.format.bytesPerRow(cols)
                    let matrix = String(part.dropFirst(4).dropLast(5))   // gate | up | down
                    for e in 0..<experts {
                        let name = try expertName(l, e, matrix)
                        renamed[name] = TensorView(name: name, format: view.format, shape: [rows, cols], base: view.base + e * stride, file: view.file)
                    }
                default: throw unknown()
                }
            }
        }
        return CheckpointWeights(path: file.path, sources: [file], tensors: renamed)
    }
}
