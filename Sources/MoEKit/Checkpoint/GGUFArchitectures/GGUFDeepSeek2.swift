import Foundation

/// DeepSeek-V2 and V3 as llama.cpp stores them: one architecture, `deepseek2` (its
/// `DeepseekV2Model`), told apart by `expert_gating_func` (1 or absent: softmax, V2; 2: sigmoid +
/// `exp_probs_b`, V3). What differs from the other tables:
/// - MLA is written as MQA over the latent: `attention.head_count_kv` 1, `key_length` =
///   kv_lora_rank + qk_rope, `value_length` = kv_lora_rank; the real head sizes are
///   `key_length_mla` (qk_nope + qk_rope) and `value_length_mla` (v_head_dim). Files from before
///   the `_mla` keys state the real sizes as `key_length` / `value_length` and keep `attn_kv_b`.
/// - `kv_b_proj` is split per head into `attn_k_b` (key rows transposed, [H, r, nope]) and
///   `attn_v_b` ([H, v, r]) — the absorbed form MLA computes anyway (`LatentUpProjection`).
/// - no q/k permutation: llama.cpp ropes deepseek2 on adjacent pairs, as DeepSeek does (a V3 with
///   `rope_interleave: false` has no deepseek2 spelling and is refused on export).
/// - dense first layers `leading_dense_block_count` (plain `ffn_{gate,up,down}`, width
///   `feed_forward_length`), experts of `expert_feed_forward_length`, `expert_shared_count` shared
///   experts as one `ffn_*_shexp`, `expert_weights_scale` = routed_scaling_factor,
///   `expert_weights_norm` written only when true (llama.cpp's default is false),
///   `expert_group_count` / `expert_group_used_count` = n_group / topk_group, YaRN as
///   `rope.scaling.{type, factor, original_context_length, yarn_log_multiplier}` with the
///   multiplier 0.1·mscale_all_dim (llama.cpp assumes mscale = mscale_all_dim, as the released
///   models have it).
/// A V2 file with expert groups is read as DeepSeek's `group_limited_greedy` (groups ranked by their
/// best expert), as the released V2 models route.
struct GGUFDeepSeek2: GGUFArchitecture {
    var name: String { "deepseek2" }
    var family: ModelFamily { .deepseekV2 }
    /// `expert_gating_func` of the family.
    var gatingFunction: Int { 1 }
    var rotaryPairing: RotaryEmbedding.Pairing { .adjacent }

    func reads(_ file: GGUFFile) throws -> Bool { try Self.gating(file) != 2 }

    static func gating(_ file: GGUFFile) throws -> Int {
        file.metadata.has("deepseek2.expert_gating_func") ? try file.metadata.int("deepseek2.expert_gating_func") : 1
    }

    /// The common keys but the head sizes, which MLA states its own way.
    var commonKeys: [GGUFKey] {
        GGUFKey.common.filter { !["attention.head_count_kv", "attention.key_length", "attention.value_length", "rope.dimension_count"].contains($0.gguf) } + [
            GGUFKey("", "attention.head_count_kv") { _ in GGUFKey.u32(1) },
            GGUFKey("", "attention.key_length") { c in c.latentAttention.map { GGUFKey.u32($0.latentCacheWidth) } },
            GGUFKey("", "attention.value_length") { c in c.latentAttention.map { GGUFKey.u32($0.kvRank) } },
            GGUFKey("qk_rope_head_dim", "rope.dimension_count") { c in c.latentAttention.map { GGUFKey.u32($0.ropeDim) } },
        ]
    }

    var keys: [GGUFKey] {
        let gating = gatingFunction
        return [
            GGUFKey("n_routed_experts", "expert_count") { GGUFKey.u32($0.numExperts) },
            GGUFKey("intermediate_size", "feed_forward_length") { GGUFKey.u32($0.denseIntermediateSize) },
            GGUFKey("moe_intermediate_size", "expert_feed_forward_length") { GGUFKey.u32($0.intermediateSize) },
            GGUFKey("first_k_dense_replace", "leading_dense_block_count") { c in
                GGUFKey.u32((0..<c.numLayers).first { !c.isDense(layer: $0) } ?? c.numLayers)
            },
            GGUFKey("n_shared_experts", "expert_shared_count") { GGUFKey.u32($0.sharedExperts) },
            GGUFKey("routed_scaling_factor", "expert_weights_scale") { .float32($0.routedScalingFactor) },
            GGUFKey("norm_topk_prob", "expert_weights_norm") { $0.normalizeTopK ? .bool(true) : nil },
            GGUFKey("n_group", "expert_group_count") { $0.expertGroups.map { GGUFKey.u32($0.count) } },
            GGUFKey("topk_group", "expert_group_used_count") { $0.expertGroups.map { GGUFKey.u32($0.chosen) } },
            GGUFKey("", "expert_gating_func") { _ in GGUFKey.u32(gating) },
            GGUFKey("q_lora_rank", "attention.q_lora_rank") { $0.latentAttention?.queryRank.map(GGUFKey.u32) },
            GGUFKey("kv_lora_rank", "attention.kv_lora_rank") { $0.latentAttention.map { GGUFKey.u32($0.kvRank) } },
            GGUFKey("", "attention.key_length_mla") { $0.latentAttention.map { GGUFKey.u32($0.queryKeyDim) } },
            GGUFKey("v_head_dim", "attention.value_length_mla") { $0.latentAttention.map { GGUFKey.u32($0.valueDim) } },
            GGUFKey("", "rope.scaling.type") { $0.yarn == nil ? nil : .string("yarn") },
            GGUFKey("", "rope.scaling.factor") { $0.yarn.map { .float32(Float($0.factor)) } },
            GGUFKey("", "rope.scaling.original_context_length") { $0.yarn.map { GGUFKey.u32($0.originalContext) } },
            GGUFKey("", "rope.scaling.yarn_log_multiplier") { $0.yarn?.mscaleAllDim.map { .float32(Float(0.1 * $0)) } },
        ]
    }

    /// YaRN, shared experts, dense layers and routed scaling are implemented; other RoPE scaling is not.
    func refuseUnimplemented(_ metadata: GGUFMetadata) throws {
        try refuseScaling(metadata)
        let gating = "\(name).expert_gating_func"
        if metadata.has(gating), try metadata.int(gating) != gatingFunction {
            throw metadata.fail(gating, "\(try metadata.int(gating)) is not implemented (1 softmax, 2 sigmoid)")
        }
    }

    func refuseScaling(_ metadata: GGUFMetadata) throws {
        let scaling = "\(name).rope.scaling.type"
        if metadata.has(scaling), !["none", "yarn"].contains(try metadata.string(scaling)) {
            throw metadata.fail(scaling, "RoPE scaling \"\(try metadata.string(scaling))\" is not implemented for deepseek2 (moepp runs plain RoPE and yarn)")
        }
    }

    /// The latent "head" of the MQA spelling must be the config's latent.
    func checkHeadSizes(_ metadata: GGUFMetadata, config: ModelConfig) throws {
        guard metadata.has("\(name).attention.key_length_mla"), let shape = config.latentAttention else { return }
        for (suffix, expected) in [("attention.key_length", shape.latentCacheWidth), ("attention.value_length", shape.kvRank)]
        where metadata.has("\(name).\(suffix)") {
            let found = try metadata.int("\(name).\(suffix)")
            guard found == expected else { throw metadata.fail("\(name).\(suffix)", "\(found), expected kv_lora_rank\(suffix.hasSuffix("key_length") ? " + rope dimension" : "") = \(expected)") }
        }
    }

    /// The config.json keys the file states otherwise: MLA's head sizes, the heads MQA hides,
    /// llama.cpp's defaults for absent keys, the routing rule, YaRN.
    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        let m = file.metadata, a = name
        object["num_key_value_heads"] = NSNumber(value: try m.int("\(a).attention.head_count"))
        let rope = try m.int("\(a).rope.dimension_count")
        object["head_dim"] = NSNumber(value: rope)
        let mla = m.has("\(a).attention.key_length_mla")
        let keyLength = mla ? "\(a).attention.key_length_mla" : "\(a).attention.key_length"
        let nope = try m.int(keyLength) - rope
        guard nope >= 0 else { throw m.fail(keyLength, "\(nope + rope) is shorter than the rope dimension \(rope)") }
        object["qk_nope_head_dim"] = NSNumber(value: nope)
        keyFor["qk_nope_head_dim"] = keyLength
        if !mla {
            object["v_head_dim"] = NSNumber(value: try m.int("\(a).attention.value_length"))
            keyFor["v_head_dim"] = "\(a).attention.value_length"
        }
        for key in ["first_k_dense_replace", "n_shared_experts"] where object[key] == nil { object[key] = NSNumber(value: 0) }
        if object["norm_topk_prob"] == nil { object["norm_topk_prob"] = NSNumber(value: false) }
        routing(into: &object)
        if m.has("\(a).rope.scaling.type"), try m.string("\(a).rope.scaling.type") == "yarn" {
            var yarn: [String: Any] = ["type": "yarn", "factor": NSNumber(value: try m.double("\(a).rope.scaling.factor"))]
            keyFor["rope_scaling"] = "\(a).rope.scaling.factor"
            if m.has("\(a).rope.scaling.original_context_length") {
                yarn["original_max_position_embeddings"] = NSNumber(value: try m.int("\(a).rope.scaling.original_context_length"))
            }
            if m.has("\(a).rope.scaling.yarn_log_multiplier") {
                let mscale = try m.double("\(a).rope.scaling.yarn_log_multiplier") / 0.1
                yarn["mscale"] = NSNumber(value: mscale)
                yarn["mscale_all_dim"] = NSNumber(value: mscale)
            }
            object["rope_scaling"] = yarn
        }
    }

    /// V2: softmax, greedy or group-limited by the groups' best expert.
    func routing(into object: inout [String: Any]) {
        object["scoring_func"] = "softmax"
        object["topk_method"] = object["n_group"] == nil ? "greedy" : "group_limited_greedy"
    }

    func blockTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] {
        let v2 = DeepSeekV2Architecture(), names = TensorNames(family: c.family)
        let b = "blk.\(l).", attention = "model.layers.\(l).self_attn.", d = c.hiddenSize
        guard let shape = c.latentAttention else { return [] }
        let heads = c.numHeads
        var out = [GGUFTensor(b + "attn_norm.weight", [d], .tensor(names.inputNorm(l)), keepF32: true, layer: l)]
        if let rank = shape.queryRank {
            out += [GGUFTensor(b + "attn_q_a.weight", [rank, d], .tensor(attention + "q_a_proj.weight"), layer: l),
                    GGUFTensor(b + "attn_q_a_norm.weight", [rank], .tensor(attention + "q_a_layernorm.weight"), keepF32: true, layer: l),
                    GGUFTensor(b + "attn_q_b.weight", [heads * shape.queryKeyDim, rank], .tensor(attention + "q_b_proj.weight"), layer: l)]
        } else {
            out.append(GGUFTensor(b + "attn_q.weight", [heads * shape.queryKeyDim, d], .tensor(attention + "q_proj.weight"), layer: l))
        }
        let joint = attention + "kv_b_proj.weight"
        out += [
            GGUFTensor(b + "attn_kv_a_mqa.weight", [shape.latentCacheWidth, d], .tensor(attention + "kv_a_proj_with_mqa.weight"), layer: l),
            GGUFTensor(b + "attn_kv_a_norm.weight", [shape.kvRank], .tensor(attention + "kv_a_layernorm.weight"), keepF32: true, layer: l),
            GGUFTensor(b + "attn_k_b.weight", [heads, shape.kvRank, shape.nopeDim],
                       .latentUp(of: joint, keys: true, nope: shape.nopeDim, value: shape.valueDim,
                                 readAs: attention + DeepSeekV2Architecture.splitKeyUpName), layer: l),
            GGUFTensor(b + "attn_v_b.weight", [heads, shape.valueDim, shape.kvRank],
                       .latentUp(of: joint, keys: false, nope: shape.nopeDim, value: shape.valueDim,
                                 readAs: attention + DeepSeekV2Architecture.splitValueUpName), layer: l),
            GGUFTensor(b + "attn_output.weight", [d, heads * shape.valueDim], .tensor(attention + "o_proj.weight"), layer: l),
            GGUFTensor(b + "ffn_norm.weight", [d], .tensor(names.postAttentionNorm(l)), keepF32: true, layer: l),
        ]
        if c.isDense(layer: l) {
            return out + GGUFTensor.swiGLU(layer: l, v2.denseNames(layer: l), suffix: "", inner: c.denseIntermediateSize, config: c)
        }
        out += GGUFTensor.routedExperts(layer: l, config: c)
        if c.scoreCorrectionBias {
            out.append(GGUFTensor(b + "exp_probs_b.bias", [c.numExperts], .tensor(v2.scoreCorrectionBiasName(layer: l)), keepF32: true, layer: l))
        }
        if c.sharedExperts > 0 {
            out += GGUFTensor.swiGLU(layer: l, v2.sharedExpertNames(layer: l), suffix: "_shexp", inner: c.sharedExperts * c.sharedIntermediateSize, config: c)
        }
        return out
    }

    /// Files from before the split keep kv_b_proj whole as `attn_kv_b`.
    func legacyTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] {
        guard let shape = c.latentAttention else { return [] }
        return [GGUFTensor("blk.\(l).attn_kv_b.weight", [c.numHeads * (shape.nopeDim + shape.valueDim), shape.kvRank],
                           .tensor("model.layers.\(l).self_attn.kv_b_proj.weight"), layer: l)]
    }
}

/// DeepSeek-V3 (`deepseek2` with `expert_gating_func` 2): sigmoid scores, `exp_probs_b` for the
/// choice, `noaux_tc` groups (one group when the file has none), adjacent-pair RoPE.
struct GGUFDeepSeek3: GGUFArchitecture {
    let v2 = GGUFDeepSeek2()
    var name: String { v2.name }
    var family: ModelFamily { .deepseekV3 }
    var rotaryPairing: RotaryEmbedding.Pairing { .adjacent }

    func reads(_ file: GGUFFile) throws -> Bool { try GGUFDeepSeek2.gating(file) == 2 }
    var commonKeys: [GGUFKey] { v2.commonKeys }
    var keys: [GGUFKey] { v2.keys.filter { $0.gguf != "expert_gating_func" } + [GGUFKey("", "expert_gating_func") { _ in GGUFKey.u32(2) }] }

    func refuseUnimplemented(_ metadata: GGUFMetadata) throws { try v2.refuseScaling(metadata) }

    func checkHeadSizes(_ metadata: GGUFMetadata, config: ModelConfig) throws { try v2.checkHeadSizes(metadata, config: config) }

    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        try v2.fieldsFromFile(file, into: &object, keyFor: &keyFor)
        object["scoring_func"] = "sigmoid"
        object["topk_method"] = "noaux_tc"
        object["rope_interleave"] = NSNumber(value: true)
        if object["n_group"] == nil { object["n_group"] = NSNumber(value: 1) }
        if object["topk_group"] == nil { object["topk_group"] = NSNumber(value: 1) }
    }

    func blockTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] { v2.blockTensors(layer: l, config: c) }
    func legacyTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] { v2.legacyTensors(layer: l, config: c) }
}
