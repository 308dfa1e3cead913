"""Reference fixtures for the Qwen2-MoE, Qwen3-MoE and Granite-MoE families, made by Hugging Face
transformers itself (tiny random configs).

Run once with `make hf-family-fixtures`; the small outputs are committed and read by FamilyTests.
Python is for fixture making only; the product never runs it.
Pinned: torch==2.13.0 (CPU build), transformers==4.57.1.

Each fixture directory holds what `save_pretrained` writes (config.json, model.safetensors) and
expected.json:
  tokens        the prompt
  logits        logits at every prompt position (prompt × vocab)
  generated     32 tokens of `generate(do_sample=False)` after the prompt (EOS disabled)
  routes        per position of prompt + generated, per layer: the router's top-k expert ids in
                the reference's order, or null for a dense layer (no router). Taken with forward
                hooks on each router's linear layer over one full forward pass, then top-k as
                that family's modeling file does it.
"""
import json
import os
import sys

import torch
from transformers import (GraniteMoeConfig, GraniteMoeForCausalLM, Qwen2MoeConfig, Qwen2MoeForCausalLM,
                          Qwen3MoeConfig, Qwen3MoeForCausalLM)

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
TOKENS = [3, 17, 42, 5, 9, 60, 1, 33, 33, 12, 48, 7]
NEW_TOKENS = 32


def perturb_vectors(model, seed):
    """transformers initialises norms to 1 and biases to 0, which would hide a bias or norm-shape
    bug; every 1-D parameter gets random values instead."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1:
                base = 0.0 if name.endswith("bias") else 1.0
                parameter.copy_(base + 0.3 * torch.randn(parameter.shape, generator=generator))


def router_modules(model, family):
    """(layer index, linear module) of every layer that routes; dense layers have none."""
    found = []
    for index, layer in enumerate(model.model.layers):
        if family == "granitemoe":
            found.append((index, layer.block_sparse_moe.router.layer))
        elif hasattr(layer.mlp, "gate"):
            found.append((index, layer.mlp.gate))
    return found


def top_k(logits, family, k):
    if family == "granitemoe":   # GraniteMoeTopKGating: top-k on the logits
        return torch.topk(logits.float(), k, dim=-1).indices
    # Qwen2/Qwen3 sparse blocks: softmax, then top-k on the probabilities
    return torch.topk(torch.softmax(logits.float(), dim=-1), k, dim=-1).indices


def save_model(name, model, family, k):
    target = os.path.join(out_dir, name)
    model.save_pretrained(target, safe_serialization=True)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    with torch.no_grad():
        logits = model(torch.tensor([TOKENS])).logits[0]
        generated = model.generate(torch.tensor([TOKENS]), do_sample=False, max_new_tokens=NEW_TOKENS,
                                   min_new_tokens=NEW_TOKENS)[0, len(TOKENS):].tolist()
        everything = TOKENS + generated
        captured = {}
        hooks = [module.register_forward_hook(lambda m, i, o, l=index: captured.__setitem__(l, o.reshape(-1, o.shape[-1]).clone()))
                 for index, module in router_modules(model, family)]
        model(torch.tensor([everything]))
        for hook in hooks:
            hook.remove()
    layers = len(model.model.layers)
    routes = [[top_k(captured[l][t], family, k).tolist() if l in captured else None for l in range(layers)]
              for t in range(len(everything))]
    with open(os.path.join(target, "expected.json"), "w") as f:
        json.dump({"tokens": TOKENS, "logits": logits.tolist(), "generated": generated, "routes": routes}, f)
    for extra in ["generation_config.json"]:
        path = os.path.join(target, extra)
        if os.path.exists(path):
            os.remove(path)


common = dict(vocab_size=64, hidden_size=32, num_attention_heads=4, max_position_embeddings=128,
              rms_norm_eps=1e-6, rope_theta=10000.0, initializer_range=0.2)

# Qwen2-MoE: q/k/v biases, a gated shared expert, layer 1 dense (mlp_only_layers), softmax → top-3
# of 8 without renormalisation, GQA 4/2, tied embeddings.
torch.manual_seed(10)
qwen2 = Qwen2MoeForCausalLM(Qwen2MoeConfig(
    num_key_value_heads=2, num_hidden_layers=3, intermediate_size=48, moe_intermediate_size=16,
    shared_expert_intermediate_size=40, num_experts=8, num_experts_per_tok=3, norm_topk_prob=False,
    decoder_sparse_step=1, mlp_only_layers=[1], qkv_bias=True, tie_word_embeddings=True, **common)).eval()
perturb_vectors(qwen2, 10)
save_model("hf-qwen2-moe", qwen2, "qwen2_moe", 3)

# Qwen3-MoE: per-head q/k RMSNorm, head_dim 16 (≠ hidden / heads), no biases, layer 0 dense,
# softmax → top-3 of 8 renormalised, GQA 4/2, untied embeddings.
torch.manual_seed(11)
qwen3 = Qwen3MoeForCausalLM(Qwen3MoeConfig(
    num_key_value_heads=2, head_dim=16, num_hidden_layers=3, intermediate_size=48, moe_intermediate_size=16,
    num_experts=8, num_experts_per_tok=3, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[0],
    attention_bias=False, tie_word_embeddings=False, **common)).eval()
perturb_vectors(qwen3, 11)
save_model("hf-qwen3-moe", qwen3, "qwen3_moe", 3)

# Granite-MoE: fused 3-D expert tensors, top-2 of 6 on logits then softmax, the four multipliers,
# GQA 4/1, tied embeddings.
torch.manual_seed(12)
granite = GraniteMoeForCausalLM(GraniteMoeConfig(
    num_key_value_heads=1, num_hidden_layers=2, intermediate_size=24, num_local_experts=6, num_experts_per_tok=2,
    embedding_multiplier=0.4, residual_multiplier=0.9, attention_multiplier=0.0625, logits_scaling=8.0,
    tie_word_embeddings=True, **common)).eval()
perturb_vectors(granite, 12)
save_model("hf-granitemoe", granite, "granitemoe", 2)
print("family fixtures written to", out_dir)
