"""Reference fixtures from independent implementations (Hugging Face transformers / tokenizers).

Run once with `make hf-fixtures`; the small outputs are committed and read by the Swift tests.
Python is for fixture making only; the product never runs it.
Pinned: torch==2.13.0 (CPU build), transformers==4.57.1 (classic per-expert tensor layout).
"""
import json
import os
import sys

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import MixtralConfig, MixtralForCausalLM, OlmoeConfig, OlmoeForCausalLM

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
TOKENS = [3, 17, 42, 5, 9, 60, 1, 33, 33, 12, 48, 7]


def save_model(name, model):
    target = os.path.join(out_dir, name)
    model.save_pretrained(target, safe_serialization=True)
    with torch.no_grad():
        logits = model(torch.tensor([TOKENS])).logits[0]
    with open(os.path.join(target, "expected.json"), "w") as f:
        json.dump({"tokens": TOKENS, "logits": logits.tolist()}, f)
    for extra in ["generation_config.json"]:
        path = os.path.join(target, extra)
        if os.path.exists(path):
            os.remove(path)


common = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
              rms_norm_eps=1e-5, rope_theta=10000.0, initializer_range=0.2, tie_word_embeddings=False)

torch.manual_seed(0)
mixtral = MixtralForCausalLM(MixtralConfig(num_local_experts=4, num_experts_per_tok=2, sliding_window=None,
                                           **common)).eval()
save_model("hf-mixtral", mixtral)

torch.manual_seed(1)
olmoe = OlmoeForCausalLM(OlmoeConfig(num_experts=4, num_experts_per_tok=2, norm_topk_prob=False,
                                     clip_qkv=None, **common)).eval()
save_model("hf-olmoe", olmoe)

# Tokenizers: a byte-level BPE (GPT-2 style) and a SentencePiece-style BPE with byte fallback,
# trained on a small text, with the ids HF assigns to tricky strings.
corpus = [
    "To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer",
    "In the beginning God created the heaven and the earth. And the earth was without form.",
    "The quick brown fox jumps over the lazy dog's back; it's 42 degrees   outside.\n\nNew line.",
] * 20
samples = [
    "To be, or not to be",
    "Hello world! It's   spaced\tout.\n\nNew paragraph 12345.",
    "naïve café — emoji 🙂👍🏽 and combining e\u0301 and CJK 漢字",
    "they're we've I'll he'd 'S",
    "  leading and trailing  ",
]

byte_level = Tokenizer(models.BPE())
byte_level.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
byte_level.decoder = decoders.ByteLevel()
byte_level.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))

sentence_piece = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
sentence_piece.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
sentence_piece.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                            decoders.Strip(" ", 1, 0)])
sentence_piece.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=160, special_tokens=["<unk>", "<s>", "</s>"]))
# As in LLaMA's tokenizer, the 256 byte-fallback tokens are ordinary vocabulary entries.
trained = json.loads(sentence_piece.to_str())
vocab = dict(trained["model"]["vocab"])
for b in range(256):
    vocab.setdefault(f"<0x{b:02X}>", len(vocab))
merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["model"]["merges"]]
rebuilt = Tokenizer(models.BPE(vocab, merges, byte_fallback=True, unk_token="<unk>", fuse_unk=True))
rebuilt.normalizer = sentence_piece.normalizer
rebuilt.decoder = sentence_piece.decoder
rebuilt.add_special_tokens(["<unk>", "<s>", "</s>"])
sentence_piece = rebuilt

for name, tokenizer in [("hf-tokenizer-bytelevel", byte_level), ("hf-tokenizer-sentencepiece", sentence_piece)]:
    target = os.path.join(out_dir, name)
    os.makedirs(target, exist_ok=True)
    tokenizer.save(os.path.join(target, "tokenizer.json"))
    cases = [{"text": s, "ids": tokenizer.encode(s).ids, "decoded": tokenizer.decode(tokenizer.encode(s).ids)} for s in samples]
    with open(os.path.join(target, "expected.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
print("fixtures written to", out_dir)
