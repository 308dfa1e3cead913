"""Reference fixtures for the Multi-head Latent Attention families: DeepSeek-V2 and DeepSeek-V3
(YaRN, dense first layers, shared experts, group-limited and bias-corrected routing) and
LongCat-Flash (identity experts, two sublayers per layer with a shortcut MoE), made by Hugging Face
transformers itself from tiny random configs.

Run once with `make hf-deepseek-fixtures`; the small outputs are committed and read by
DeepSeekFamilyTests. Python is for fixture making only; the product never runs it.
Pinned: torch==2.13.0 (CPU build), transformers==4.57.1.

Each fixture directory holds what `save_pretrained` writes (config.json, model.safetensors) and
expected.json:
  tokens        the prompt
  logits        logits at every prompt position (prompt x vocab)
  generated     32 tokens of `generate(do_sample=False)` after the prompt (EOS disabled)
  routes        per position of prompt + generated, per moepp block (a LongCat layer is two): the
                expert ids the gate module returned (its forward output, taken by a hook over one
                full forward pass), sorted ascending, or null for a block without a router
  weights       the gate's weights for those ids, in the same order (routed scaling included)
  reference     what produced the numbers (and the one patch applied, if any)

One patch: transformers 4.57.1's DeepseekV2Attention leaves YaRN's m(s, mscale_all_dim)^2 out of
the softmax scale, which DeepSeek's own modeling code, V3 in 4.57.1 and later transformers
(PR #47435) apply; the V2 YaRN fixture sets `attention.scaling` as that fix does.
"""
import json
import math
import os
import sys

import torch
from transformers import (DeepseekV2Config, DeepseekV2ForCausalLM, DeepseekV3Config, DeepseekV3ForCausalLM,
                          LongcatFlashConfig, LongcatFlashForCausalLM)

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
PROMPT = [3, 17, 42, 5, 9, 60, 1, 33, 33, 12, 48, 7]
NEW_TOKENS = 32
SHAPE = dict(vocab_size=64, hidden_size=32, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
             rms_norm_eps=1e-6, rope_theta=10000.0, initializer_range=0.2, intermediate_size=48, moe_intermediate_size=16,
             n_routed_experts=8, num_experts_per_tok=3, num_hidden_layers=3, first_k_dense_replace=1,
             kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=12)


def randomise_vectors_and_buffers(model, seed):
    """Norm weights start at 1 and e_score_correction_bias at 0 in transformers, which would hide a
    norm-shape or bias bug: each gets random values (the bias small, so scores stay positive)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, parameter in model.named_parameters():
            if parameter.dim() == 1:
                parameter.copy_(1.0 + 0.3 * torch.randn(parameter.shape, generator=generator))
        for name, buffer in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                buffer.copy_(0.03 * torch.randn(buffer.shape, generator=generator))


def apply_upstream_v2_mscale(model):
    """The softmax-scale factor transformers added to DeepseekV2Attention after 4.57.1."""
    scaling = model.config.rope_scaling or {}
    if scaling.get("mscale_all_dim"):
        m = 0.1 * scaling["mscale_all_dim"] * math.log(scaling["factor"]) + 1.0
        for layer in model.model.layers:
            layer.self_attn.scaling = layer.self_attn.scaling * m * m
        return "transformers 4.57.1 with DeepseekV2Attention.scaling *= m(factor, mscale_all_dim)^2 (upstream PR #47435)"
    return "transformers 4.57.1, unpatched"


def deepseek_gates(model):
    """Per block: DeepSeek's MoE gate `mlp.gate`, or None for a dense layer."""
    return [layer.mlp.gate if hasattr(layer.mlp, "gate") else None for layer in model.model.layers]


def longcat_gates(model):
    """Per block: each LongCat layer is two blocks, the first routing through `mlp.router`."""
    return [gate for layer in model.model.layers for gate in (layer.mlp.router, None)]


def write_fixture(name, model, reference, gates=deepseek_gates):
    target = os.path.join(out_dir, name)
    model.save_pretrained(target, safe_serialization=True)
    generation_config = os.path.join(target, "generation_config.json")
    if os.path.exists(generation_config):
        os.remove(generation_config)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    with torch.no_grad():
        logits = model(torch.tensor([PROMPT])).logits[0]
        generated = model.generate(torch.tensor([PROMPT]), do_sample=False, max_new_tokens=NEW_TOKENS,
                                   min_new_tokens=NEW_TOKENS)[0, len(PROMPT):].tolist()
        gate_outputs = {}
        blocks = gates(model)
        hooks = [gate.register_forward_hook(lambda module, inputs, output, index=index: gate_outputs.__setitem__(index, output))
                 for index, gate in enumerate(blocks) if gate is not None]
        model(torch.tensor([PROMPT + generated]))
        for hook in hooks:
            hook.remove()
    routes, weights = [], []
    for position in range(len(PROMPT) + NEW_TOKENS):
        route_row, weight_row = [], []
        for index in range(len(blocks)):
            if index not in gate_outputs:
                route_row.append(None)
                weight_row.append(None)
                continue
            ids, gate_weights = gate_outputs[index]
            pairs = sorted(zip(ids[position].tolist(), gate_weights[position].tolist()))
            route_row.append([expert for expert, _ in pairs])
            weight_row.append([weight for _, weight in pairs])
        routes.append(route_row)
        weights.append(weight_row)
    with open(os.path.join(target, "expected.json"), "w") as f:
        json.dump({"tokens": PROMPT, "logits": logits.tolist(), "generated": generated, "routes": routes,
                   "weights": weights, "reference": reference}, f)


# DeepSeek-V2 as DeepSeek-V2-Lite is built: q_proj without a low rank, YaRN with mscale =
# mscale_all_dim (original context 16, so the prompt and generation reach the scaled band), plus
# group_limited_greedy routing (top-3 within the best 2 of 4 groups), 2 shared experts, layer 0
# dense, routed scaling 1.5, tied embeddings.
torch.manual_seed(20)
v2 = DeepseekV2ForCausalLM(DeepseekV2Config(
    q_lora_rank=None, n_shared_experts=2, routed_scaling_factor=1.5, topk_method="group_limited_greedy", n_group=4,
    topk_group=2, norm_topk_prob=False, tie_word_embeddings=True,
    rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16, "beta_fast": 32.0, "beta_slow": 1.0,
                  "mscale": 0.707, "mscale_all_dim": 0.707}, **SHAPE)).eval()
randomise_vectors_and_buffers(v2, 20)
write_fixture("hf-deepseek-v2", v2, apply_upstream_v2_mscale(v2))

# DeepSeek-V2 greedy: q through its low rank (q_lora_rank 24), plain RoPE, 1 shared expert, untied.
torch.manual_seed(21)
v2_greedy = DeepseekV2ForCausalLM(DeepseekV2Config(
    q_lora_rank=24, n_shared_experts=1, routed_scaling_factor=1.0, topk_method="greedy", norm_topk_prob=False,
    tie_word_embeddings=False, **SHAPE)).eval()
randomise_vectors_and_buffers(v2_greedy, 21)
write_fixture("hf-deepseek-v2-greedy", v2_greedy, apply_upstream_v2_mscale(v2_greedy))

# DeepSeek-V3: q_lora_rank 24, YaRN as V3 sets it (mscale = mscale_all_dim = 1, so the softmax scale
# moves and cos/sin do not), sigmoid + e_score_correction_bias, noaux_tc (top-3 within the best 2 of
# 4 groups by their top-2 sum), norm_topk_prob, routed scaling 2.5, 1 shared expert, layer 0 dense,
# interleaved RoPE, untied.
torch.manual_seed(22)
v3 = DeepseekV3ForCausalLM(DeepseekV3Config(
    q_lora_rank=24, n_shared_experts=1, routed_scaling_factor=2.5, n_group=4, topk_group=2, norm_topk_prob=True,
    rope_interleave=True, tie_word_embeddings=False,
    rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16, "beta_fast": 32.0, "beta_slow": 1.0,
                  "mscale": 1.0, "mscale_all_dim": 1.0}, **SHAPE)).eval()
randomise_vectors_and_buffers(v3, 22)
write_fixture("hf-deepseek-v3", v3, "transformers 4.57.1, unpatched")

# LongCat-Flash: 2 layers (4 sublayers), 6 FFN experts + 4 identity experts, top-3 on softmax +
# e_score_correction_bias, routed scaling 2.0 without renormalisation, MLA with its lora scales,
# untied embeddings.
torch.manual_seed(23)
longcat = LongcatFlashForCausalLM(LongcatFlashConfig(
    vocab_size=64, hidden_size=32, num_layers=2, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
    max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0, initializer_range=0.2, ffn_hidden_size=48,
    q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=8, head_dim=8, v_head_dim=12, moe_topk=3,
    n_routed_experts=6, zero_expert_num=4, expert_ffn_hidden_size=16, routed_scaling_factor=2.0,
    tie_word_embeddings=False)).eval()
randomise_vectors_and_buffers(longcat, 23)
write_fixture("hf-longcat-flash", longcat, "transformers 4.57.1, unpatched", gates=longcat_gates)
print("MLA family fixtures written to", out_dir)
