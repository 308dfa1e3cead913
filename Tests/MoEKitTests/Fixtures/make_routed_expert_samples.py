"""Samples of other engines' routed-expert output, written to their documented shapes.

- vLLM (`--enable-return-routed-experts`, docs "Routed Experts Replay"): a /v1/completions
  response with `prompt_routed_experts` [prompt_len][layers][top_k] at the response level and
  `choices[0].routed_experts` [gen_len][layers][top_k], plus `return_token_ids`' fields.
- SGLang (`--enable-return-routed-experts`, `return_routed_experts: true`): a /generate
  response whose `meta_info.routed_experts` is base64 of little-endian int32 ids flattened from
  [prompt_tokens + completion_tokens - 1][layers][top_k].
Standard library only, seeded: `make trace-samples` rewrites the same files.
"""
import base64
import json
import os
import random
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "traces")
random.seed(10)
LAYERS, TOP_K, EXPERTS = 3, 2, 8


def routing(tokens):
    return [[random.sample(range(EXPERTS), TOP_K) for _ in range(LAYERS)] for _ in range(tokens)]


prompt_ids, output_ids = [101, 7, 42, 9, 13], [55, 8, 3]
vllm = {
    "id": "cmpl-sample", "object": "text_completion", "model": "tiny-moe",
    "prompt_routed_experts": routing(len(prompt_ids)), "prompt_token_ids": prompt_ids,
    "choices": [{"index": 0, "text": " and so", "finish_reason": "length", "token_ids": output_ids,
                 "routed_experts": routing(len(output_ids))}],
    "usage": {"prompt_tokens": len(prompt_ids), "completion_tokens": len(output_ids)},
}
with open(os.path.join(out, "vllm-completion.json"), "w") as f:
    json.dump(vllm, f, indent=1)

completion_ids = [55, 8, 3, 2]
rows = routing(len(prompt_ids) + len(completion_ids) - 1)
flat = [e for token in rows for layer in token for e in layer]
sglang = {
    "text": " and so.", "output_ids": completion_ids,
    "meta_info": {"id": "sample", "finish_reason": {"type": "length", "length": 4}, "prompt_tokens": len(prompt_ids),
                  "completion_tokens": len(completion_ids),
                  "routed_experts": base64.b64encode(struct.pack("<%di" % len(flat), *flat)).decode()},
}
with open(os.path.join(out, "sglang-generate.json"), "w") as f:
    json.dump(sglang, f, indent=1)
