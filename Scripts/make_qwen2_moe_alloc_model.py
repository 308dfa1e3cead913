#!/usr/bin/env python3
"""A random Qwen2-MoE-style checkpoint for Scripts/count-allocations.sh: shared experts with a
gate in layers 0, 2, 3 and a dense layer 1 (`mlp_only_layers`), FFNs wide enough (2·I floats over
1 KiB) that a per-call temporary would go to the heap. Not a fixture: nothing checks its output.
Usage: Scripts/make_qwen2_moe_alloc_model.py OUT_DIR TOKENIZER_JSON (a 4096-id tokenizer, e.g.
Assets/models/moepp-tiny/tokenizer.json). Needs numpy (run with 2.4.6)."""
import json, os, shutil, struct, sys
import numpy as np

out, tokenizer = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
shutil.copy(tokenizer, os.path.join(out, "tokenizer.json"))
d, V, L, I, MI, SI, E, H, KV = 256, 4096, 4, 1024, 128, 512, 8, 4, 2
hd = d // H
config = {"architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "hidden_act": "silu",
          "hidden_size": d, "vocab_size": V, "num_hidden_layers": L, "intermediate_size": I,
          "moe_intermediate_size": MI, "shared_expert_intermediate_size": SI, "num_experts": E,
          "num_experts_per_tok": 2, "norm_topk_prob": False, "num_attention_heads": H, "num_key_value_heads": KV,
          "mlp_only_layers": [1], "decoder_sparse_step": 1, "max_position_embeddings": 1024, "qkv_bias": True,
          "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None, "tie_word_embeddings": True,
          "use_sliding_window": False, "sliding_window": None, "dtype": "float32"}
json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=1)
rng = np.random.default_rng(0)
tensors = {}
def random(name, *shape, scale=None):
    tensors[name] = (rng.standard_normal(shape) * (scale if scale is not None else 1 / np.sqrt(shape[-1]))).astype(np.float32)
random("model.embed_tokens.weight", V, d, scale=1.0)
tensors["model.norm.weight"] = np.ones(d, np.float32)
for l in range(L):
    p = f"model.layers.{l}."
    tensors[p + "input_layernorm.weight"] = np.ones(d, np.float32)
    tensors[p + "post_attention_layernorm.weight"] = np.ones(d, np.float32)
    for name, rows in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
        random(p + f"self_attn.{name}_proj.weight", rows, d)
        random(p + f"self_attn.{name}_proj.bias", rows, scale=0.1)
    random(p + "self_attn.o_proj.weight", d, H * hd)
    if l == 1:
        random(p + "mlp.gate_proj.weight", I, d); random(p + "mlp.up_proj.weight", I, d); random(p + "mlp.down_proj.weight", d, I)
        continue
    for e in range(E):
        q = p + f"mlp.experts.{e}."
        random(q + "gate_proj.weight", MI, d); random(q + "up_proj.weight", MI, d); random(q + "down_proj.weight", d, MI)
    random(p + "mlp.gate.weight", E, d)
    q = p + "mlp.shared_expert."
    random(q + "gate_proj.weight", SI, d); random(q + "up_proj.weight", SI, d); random(q + "down_proj.weight", d, SI)
    random(p + "mlp.shared_expert_gate.weight", 1, d)
header, offset = {}, 0
for name in sorted(tensors):
    size = tensors[name].nbytes
    header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + size]}
    offset += size
encoded = json.dumps(header).encode()
encoded += b" " * ((8 - len(encoded) % 8) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(encoded))); f.write(encoded)
    for name in sorted(tensors): f.write(tensors[name].tobytes())
