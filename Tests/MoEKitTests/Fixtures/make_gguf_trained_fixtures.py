"""Trained tiny Mixtral and OLMoE as F16 GGUF, with transformers' greedy text and logits.

Random tiny models have flat logits (top-two margins of hundredths of a logit), so Q8_0 noise
flips their greedy choices and no quantised greedy path can be held on them. These two are
trained briefly, so their logits are peaked as a real model's are on text it knows:

- HF MixtralForCausalLM (4 experts, top 2) and OlmoeForCausalLM (8 experts, top 2), hidden 64,
  4 heads / 2 kv heads, expert width 32, 2 layers, vocabulary 64 (a tiny SentencePiece BPE for
  Mixtral, a tiny byte-level BPE for OLMoE, both trained on TEXT), seed 0, torch CPU, 1 thread;
- trained with Adam on random 64-token windows of TEXT repeated (next-token cross-entropy), then
  every weight rounded to f16, so the F16 GGUF holds exactly the weights transformers runs with
  (norms and router, kept F32 by the converter, hold the same f16-exact values);
- written by make_gguf_fixtures.write_model (gguf-py's GGUFWriter the way llama.cpp's converter
  names, permutes and stacks them), with the tokenizer in the file;
- trained-expected.json: per file, the prompt and its ids, transformers' 32 greedy tokens (argmax of
  a full forward at each step), the logits at every position of prompt + generated[:-1]
  (teacher-forced, float32 values), and the decoded text.

Seen (seed 0, 400 steps, the first and only setting tried): final training loss 0.036 (Mixtral)
and 0.033 (OLMoE) — the rest is the windows' first tokens, which have no context; the greedy text
is the paragraph's own continuation; the smallest top-two margin along the greedy path is 5.94 and
6.54 logits, largest |logit| 11.7 and 11.5; about a minute each on one thread; a second run wrote
the same bytes.

Run with `make gguf-trained-fixtures`; the small outputs are committed. Python makes fixtures only.
Pinned as make_gguf_fixtures.py, plus transformers==4.57.1.
"""
import json
import os
import tempfile
import time

import numpy as np
import torch
import transformers
from tokenizers import decoders
from transformers import MixtralConfig, MixtralForCausalLM, OlmoeConfig, OlmoeForCausalLM

import make_gguf_fixtures as fixtures

assert transformers.__version__ == "4.57.1", f"pinned transformers 4.57.1, found {transformers.__version__}"

# Dickens, A Tale of Two Cities (1859), public domain. Its repeated frames ("it was the age of",
# "we had ... before us") make the next token depend on context further back than one phrase.
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
        "age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the "
        "season of Light, it was the season of Darkness, it was the spring of hope, it was the winter "
        "of despair, we had everything before us, we had nothing before us, we were all going direct "
        "to Heaven, we were all going direct the other way.")
PROMPT = "It was the best of times,"
STEPS, BATCH, WINDOW, LR = 400, 16, 64, 3e-3
GENERATED = 32

common = dict(vocab_size=64, hidden_size=64, intermediate_size=32, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
              rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)


def train(model, ids):
    """Adam on random WINDOW-token windows of the text's ids repeated end to end."""
    stream = torch.tensor(ids * 8)
    generator = torch.Generator().manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    start = time.time()
    for step in range(STEPS):
        offsets = torch.randint(0, len(stream) - WINDOW - 1, (BATCH,), generator=generator)
        batch = torch.stack([stream[o:o + WINDOW + 1] for o in offsets.tolist()])
        logits = model(batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 50 == 0 or step == STEPS - 1:
            print(f"  step {step}: loss {loss.item():.4f} ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():  # the weights the F16 file will hold, exactly
        for p in model.parameters():
            p.copy_(p.to(torch.float16).to(torch.float32))


def greedy(model, prompt):
    tokens = list(prompt)
    with torch.no_grad():
        for _ in range(GENERATED):
            tokens.append(int(model(torch.tensor([tokens])).logits[0, -1].argmax()))
        logits = model(torch.tensor([tokens[:-1]])).logits[0]
    assert [int(i) for i in logits[len(prompt) - 1:].argmax(-1)] == tokens[len(prompt):]
    top2 = logits[len(prompt) - 1:].topk(2, dim=-1).values
    print(f"  smallest top-1/top-2 margin along the greedy path: {(top2[:, 0] - top2[:, 1]).min().item():.3f}; "
          f"largest |logit| {logits.abs().max().item():.2f}")
    return tokens[len(prompt):], logits


def make(name, arch, model, tokenizer_ids, decode, add_vocab):
    ids = tokenizer_ids(TEXT)
    print(f"{name}: {len(ids)} tokens of text, {sum(p.numel() for p in model.parameters())} parameters")
    train(model, ids)
    prompt = tokenizer_ids(PROMPT)
    assert ids[:len(prompt)] == prompt, "the prompt is how the text begins"
    generated, logits = greedy(model, prompt)
    with tempfile.TemporaryDirectory() as hf_dir:
        model.save_pretrained(hf_dir, safe_serialization=True)
        fixtures.write_model(name, hf_dir, arch, np.float16, add_vocab)
    text = decode(prompt + generated)
    print(f"  {text!r}")
    return {"prompt": PROMPT, "tokens": prompt, "generated": generated, "text": text,
            "logits": [[float(f"{x:.9g}") for x in row] for row in logits.tolist()]}


def main():
    torch.set_num_threads(1)
    corpus = [TEXT] * 30
    expected = {}

    sp_proto = fixtures.tiny_sentencepiece(corpus)
    sp = fixtures.spm.SentencePieceProcessor(model_proto=sp_proto)
    assert sp.vocab_size() == common["vocab_size"]
    torch.manual_seed(0)
    mixtral = MixtralForCausalLM(MixtralConfig(num_local_experts=4, num_experts_per_tok=2, sliding_window=None, **common))
    expected["mixtral-trained-f16.gguf"] = make(
        "mixtral-trained-f16.gguf", "llama", mixtral, sp.encode, sp.decode,
        lambda w: fixtures.add_llama_vocab(w, sp_proto, vocab_size=common["vocab_size"]))

    byte_level = fixtures.tiny_byte_level(corpus)
    byte_level.decoder = decoders.ByteLevel()  # for the text only; the GGUF holds tokens and merges
    assert byte_level.get_vocab_size() == common["vocab_size"], byte_level.get_vocab_size()
    torch.manual_seed(0)
    olmoe = OlmoeForCausalLM(OlmoeConfig(num_experts=8, num_experts_per_tok=2, norm_topk_prob=False, clip_qkv=None, **common))
    expected["olmoe-trained-f16.gguf"] = make(
        "olmoe-trained-f16.gguf", "olmoe", olmoe, lambda s: byte_level.encode(s).ids, byte_level.decode,
        lambda w: fixtures.add_gpt2_vocab(w, byte_level, "olmo", [PROMPT]))

    with open(os.path.join(fixtures.out_dir, "trained-expected.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False, separators=(",", ":"))
    print("trained GGUF fixtures written to", fixtures.out_dir)


if __name__ == "__main__":
    main()
