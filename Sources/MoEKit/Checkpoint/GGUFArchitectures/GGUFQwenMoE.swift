import Foundation

/// Qwen2-MoE and Qwen3-MoE as llama.cpp stores them (`qwen2moe`, `qwen3moe`; its
/// `Qwen2MoeModel` / `Qwen3MoeModel`): rotate-half RoPE (rows not permuted), the dense width as
/// `feed_forward_length`, the experts' as `expert_feed_forward_length`, the shared expert's as
/// `expert_shared_feed_forward_length` with tensors `ffn_{gate,up,down}_shexp` and its sigmoid gate
/// `ffn_gate_inp_shexp`; q/k/v biases as `attn_{q,k,v}.bias`; Qwen3's per-head q/k norms as
/// `attn_{q,k}_norm`. A dense layer (`mlp_only_layers`) is a plain `ffn_{gate,up,down}`.
///
/// What the converter leaves out the file says by its tensors: biases, dense layers and the
/// shared expert. `norm_topk_prob` is not written by the converter: llama.cpp fixes it per
/// architecture (false for qwen2moe, true for qwen3moe); we write `expert_weights_norm` only
/// when a model differs from that, and read it when present.
struct GGUFQwen2MoE: GGUFArchitecture {
    var name: String { "qwen2moe" }
    var family: ModelFamily { .qwen2MoE }
    /// llama.cpp's fixed renormalisation of the top-k weights for this architecture.
    var llamaCppNormalizesTopK: Bool { false }

    var keys: [GGUFKey] { Self.qwenKeys(normalizesTopK: llamaCppNormalizesTopK) }

    /// Both Qwen architectures' keys; the shared expert's width only where there is one.
    static func qwenKeys(normalizesTopK: Bool) -> [GGUFKey] {
        [GGUFKey("num_experts", "expert_count") { GGUFKey.u32($0.numExperts) },
         GGUFKey("intermediate_size", "feed_forward_length") { GGUFKey.u32($0.denseIntermediateSize) },
         GGUFKey("moe_intermediate_size", "expert_feed_forward_length") { GGUFKey.u32($0.intermediateSize) },
         GGUFKey("shared_expert_intermediate_size", "expert_shared_feed_forward_length") { $0.sharedExperts > 0 ? GGUFKey.u32($0.sharedIntermediateSize) : nil },
         GGUFKey("norm_topk_prob", "expert_weights_norm") { $0.normalizeTopK == normalizesTopK ? nil : .bool($0.normalizeTopK) }]
    }

    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        try Self.qwenFields(file, arch: name, normalizesTopK: llamaCppNormalizesTopK, into: &object)
        object["qkv_bias"] = NSNumber(value: file.tensors["blk.0.attn_q.bias"] != nil)
        if !file.tensorNames.contains(where: { $0.hasSuffix(".ffn_up_shexp.weight") }) {
            object["shared_expert_intermediate_size"] = NSNumber(value: 0)
        }
    }

    /// Dense layers are those without a router; the top-k rule is llama.cpp's unless the file says.
    static func qwenFields(_ file: GGUFFile, arch: String, normalizesTopK: Bool, into object: inout [String: Any]) throws {
        let layers = try file.metadata.int("\(arch).block_count")
        object["mlp_only_layers"] = (0..<max(0, min(layers, 1 << 16))).filter { file.tensors["blk.\($0).ffn_gate_inp.weight"] == nil }.map { NSNumber(value: $0) }
        if object["norm_topk_prob"] == nil { object["norm_topk_prob"] = NSNumber(value: normalizesTopK) }
    }

    func blockTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] {
        let qwen = Qwen2MoEArchitecture()
        var out = GGUFTensor.attention(layer: l, config: c, permuted: false)
        if c.isDense(layer: l) {
            return out + GGUFTensor.swiGLU(layer: l, qwen.denseNames(layer: l), suffix: "", inner: c.denseIntermediateSize, config: c)
        }
        out += GGUFTensor.routedExperts(layer: l, config: c)
        if c.sharedExperts > 0 {
            if c.sharedExpertGate {
                out.append(GGUFTensor("blk.\(l).ffn_gate_inp_shexp.weight", [1, c.hiddenSize], .tensor(qwen.sharedExpertGateName(layer: l)), keepF32: true, layer: l))
            }
            out += GGUFTensor.swiGLU(layer: l, qwen.sharedExpertNames(layer: l), suffix: "_shexp", inner: c.sharedIntermediateSize, config: c)
        }
        return out
    }
}

struct GGUFQwen3MoE: GGUFArchitecture {
    var name: String { "qwen3moe" }
    var family: ModelFamily { .qwen3MoE }
    let qwen2 = GGUFQwen2MoE()

    var keys: [GGUFKey] { GGUFQwen2MoE.qwenKeys(normalizesTopK: true) }

    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        try GGUFQwen2MoE.qwenFields(file, arch: name, normalizesTopK: true, into: &object)
    }

    func blockTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] { qwen2.blockTensors(layer: l, config: c) }
}
