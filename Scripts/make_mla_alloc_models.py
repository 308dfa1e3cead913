#!/usr/bin/env python3
"""Latent-attention models for Scripts/count-allocations.sh: the DeepSeek-V2, DeepSeek-V3 and
LongCat-Flash test fixtures (64-id vocabularies, no tokenizer) copied with a 60-piece Metaspace
tokenizer.json (letters and punctuation, no merges) and a 1024-position context (theirs is 64),
so that `moepp generate` can decode a few hundred tokens through MLA. Not a fixture: nothing checks
their output. Usage: Scripts/make_mla_alloc_models.py OUT_DIR (standard library only)."""
import json, os, shutil, sys

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "Tests", "MoEKitTests", "Fixtures")
out = sys.argv[1]
tokenizer = json.load(open(os.path.join(fixtures, "hf-tokenizer-metaspace", "tokenizer.json")))
pieces = ["<unk>", "<s>", "</s>", "▁"] + list("abcdefghijklmnopqrstuvwxyz") + list("TABCDEFGHIJKLMNOPQRS") + list(",.!?'-:;()")
tokenizer["model"].update(vocab={p: i for i, p in enumerate(pieces)}, merges=[], byte_fallback=False)
tokenizer["added_tokens"] = tokenizer["added_tokens"][:3]   # <unk>, <s>, </s>
for name in ["deepseek-v2", "deepseek-v3", "longcat-flash"]:
    target = os.path.join(out, name)
    os.makedirs(target, exist_ok=True)
    shutil.copy(os.path.join(fixtures, "hf-" + name, "model.safetensors"), target)
    config = json.load(open(os.path.join(fixtures, "hf-" + name, "config.json")))
    config["max_position_embeddings"] = 1024
    json.dump(config, open(os.path.join(target, "config.json"), "w"), indent=1)
    json.dump(tokenizer, open(os.path.join(target, "tokenizer.json"), "w"), ensure_ascii=False)
    print(target)
