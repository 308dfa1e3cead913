import Foundation

/// MoE++ under an architecture name of ours, `moepp` (README "MoE++ in GGUF"): router slots are
/// FFN experts 0…E−5, constant experts E−4 and E−3, copy E−2, zero E−1; each FFN expert's gate
/// and up rows fused in one (2I)×d matrix, stacked as `ffn_gate_up_exps`; the constant experts'
/// vectors [2, d] as `ffn_const_exps` and their mixing [2, 2, d] as `ffn_const_gate_exps`; the
/// gating residual `ffn_gate_res`; a two-layer router as `ffn_gate_inp_0` / `ffn_gate_inp_2`.
struct GGUFMoEPlusPlus: GGUFArchitecture {
    var name: String { "moepp" }
    var family: ModelFamily { .moepp }

    var keys: [GGUFKey] {
        [GGUFKey("num_experts", "expert_count") { GGUFKey.u32($0.numExperts) },
         GGUFKey("intermediate_size", "feed_forward_length") { GGUFKey.u32($0.intermediateSize) },
         GGUFKey("", "expert_ffn_count") { GGUFKey.u32($0.numFFNExperts) },
         GGUFKey("", "expert_constant_count") { _ in GGUFKey.u32(2) },
         GGUFKey("", "expert_copy_count") { _ in GGUFKey.u32(1) },
         GGUFKey("", "expert_zero_count") { _ in GGUFKey.u32(1) },
         GGUFKey("", "expert_gating_residual") { _ in .bool(true) },
         GGUFKey("moe_use_logits_norm", "expert_logits_norm") { .bool($0.useLogitsNorm) },
         GGUFKey("moe_gate_norm_std", "expert_logits_norm_std") { .float32($0.gateNormStd) },
         GGUFKey("moe_use_mixtral_gating", "expert_gating_mixtral") { .bool($0.useMixtralGating) },
         GGUFKey("", "expert_input_scale_topk") { .bool($0.multiplyInputByTopK) },
         GGUFKey("", "expert_router_layers") { GGUFKey.u32($0.twoLayerGate ? 2 : 1) },
         GGUFKey("", "expert_gate_up_fused") { _ in .bool(true) }]
    }

    /// The expert layout must be the family's (E−4 FFN experts, 2 constant, 1 copy, 1 zero, gate|up
    /// fused, a gating residual); the router's depth and the input scaling become config.json's keys.
    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        let metadata = file.metadata
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

    func blockTensors(layer l: Int, config c: ModelConfig) -> [GGUFTensor] {
        let moepp = MoEPlusPlusArchitecture(), b = "blk.\(l).", experts = 0..<c.numFFNExperts
        let (d, inner, slots) = (c.hiddenSize, c.intermediateSize, c.numExperts)
        var out = GGUFTensor.attention(layer: l, config: c, permuted: false)
        if c.twoLayerGate {
            out.append(GGUFTensor(b + "ffn_gate_inp_0.weight", [8 * slots, d], .tensor(moepp.twoLayerRouterName(layer: l, stage: 0)), keepF32: true, layer: l))
            out.append(GGUFTensor(b + "ffn_gate_inp_2.weight", [slots, 8 * slots], .tensor(moepp.twoLayerRouterName(layer: l, stage: 2)), keepF32: true, layer: l))
        } else {
            out.append(GGUFTensor(b + "ffn_gate_inp.weight", [slots, d], .tensor(moepp.routerName(layer: l)), keepF32: true, layer: l))
        }
        out.append(GGUFTensor(b + "ffn_gate_res.weight", [slots, slots], .tensor(moepp.gatingResidualName(layer: l)), keepF32: true, layer: l))
        let fused = experts.map { e -> String in
            guard case .fused(let name) = moepp.expertNames(layer: l, expert: e).gateUp else { preconditionFailure("MoE++ fuses gate and up") }
            return name
        }
        out.append(GGUFTensor(b + "ffn_gate_up_exps.weight", [fused.count, 2 * inner, d], .experts(fused), layer: l))
        out.append(GGUFTensor(b + "ffn_down_exps.weight", [fused.count, d, inner], .experts(experts.map { moepp.expertNames(layer: l, expert: $0).down }), layer: l))
        let constants = moepp.constantSlots(slots)
        out.append(GGUFTensor(b + "ffn_const_exps.weight", [2, d], .experts(constants.map { moepp.constantVectorName(layer: l, expert: $0) }), keepF32: true, layer: l))
        out.append(GGUFTensor(b + "ffn_const_gate_exps.weight", [2, 2, d], .experts(constants.map { moepp.constantMixingName(layer: l, expert: $0) }), keepF32: true, layer: l))
        return out
    }
}
