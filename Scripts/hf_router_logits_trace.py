"""Routing of a Hugging Face transformers MoE model as a moepp routing trace.

Runs the model once over the prompt (plus greedy continuation tokens, each re-run over the whole
sequence) with `output_router_logits=True` and writes moepp's trace format (README, "Routing
trace format"), so `moepp view` and `moepp stats` can show routing of models moepp cannot run:

    python3 Scripts/hf_router_logits_trace.py MODEL_DIR OUT.json --prompt "Some text" [--generate 8]
    python3 Scripts/hf_router_logits_trace.py MODEL_DIR OUT.json --tokens 3,17,42   # no tokenizer needed

What the trace carries: per token and MoE layer the router logits (`routerLogits`, also as
`residualLogits`: these families have no gating residual), softmax probabilities, the top-k ids
and their weights (renormalised when the config's `norm_topk_prob` is true or absent, as Mixtral
does). Not carried: zero-computation kinds (every id is an FFN expert), shared experts, dense
layers (layers without router logits are left out), cache traffic. Pinned: torch==2.13.0 (CPU),
transformers==4.57.1. Python makes traces only; moepp never runs it.
"""
import argparse
import json
import os

import torch
from transformers import AutoModelForCausalLM


def layer_record(index, logits, top_k, renormalise):
    probabilities = torch.softmax(logits.float(), dim=-1)
    weights, chosen = torch.topk(probabilities, top_k)
    if renormalise:
        weights = weights / weights.sum()
    ids = chosen.tolist()
    return {
        "layer": index,
        "routerLogits": logits.float().tolist(),
        "residualLogits": logits.float().tolist(),
        "probabilities": probabilities.tolist(),
        "chosen": [{"index": i, "kind": f"ffn{i}", "weight": w, "dropped": False} for i, w in zip(ids, weights.tolist())],
        "probabilitiesWithoutResidual": probabilities.tolist(),
        "chosenWithoutResidual": ids,
        "ffnExpertsComputed": len(ids),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("output")
    parser.add_argument("--prompt")
    parser.add_argument("--tokens", help="comma-separated token ids instead of a prompt")
    parser.add_argument("--generate", type=int, default=0, help="greedy tokens to add after the prompt")
    args = parser.parse_args()

    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    config = model.config
    tokenizer = None
    if args.tokens:
        ids = [int(t) for t in args.tokens.split(",")]
    else:
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        ids = tokenizer(args.prompt)["input_ids"]
    prompt_length = len(ids)
    with torch.no_grad():
        for _ in range(args.generate):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(torch.argmax(logits)))
        output = model(torch.tensor([ids]), output_router_logits=True)
    # One (tokens × experts) tensor per MoE layer, in layer order (dense layers give none).
    router_logits = [layer.reshape(len(ids), -1) for layer in output.router_logits]
    top_k = config.num_experts_per_tok
    renormalise = getattr(config, "norm_topk_prob", True)
    texts = [tokenizer.decode([t]) if tokenizer else "" for t in ids]
    tokens = []
    for position, token_id in enumerate(ids):
        tokens.append({
            "position": position, "tokenId": token_id, "text": texts[position],
            "phase": "prompt" if position < prompt_length else "generated",
            "layers": [layer_record(l, logits[position], top_k, renormalise) for l, logits in enumerate(router_logits)],
        })
    trace = {
        "format": "moepp-trace", "version": 1, "source": "transformers",
        "model": os.path.basename(os.path.normpath(args.model)), "experts": router_logits[0].shape[-1],
        "turns": [{"prompt": "".join(texts[:prompt_length]), "reply": "".join(texts[prompt_length:])}],
        "tokens": tokens,
    }
    with open(args.output, "w") as f:
        json.dump(trace, f)


if __name__ == "__main__":
    main()
