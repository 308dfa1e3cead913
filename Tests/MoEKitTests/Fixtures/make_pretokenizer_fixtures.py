"""Byte-level BPE tokenizers with the Qwen2 and Granite (refact) pre-tokenizers, and the ids the
`tokenizers` library gives for varied texts, so moepp's hand-written splits are held to it.

For each pre-tokenizer a tiny BPE is trained with `tokenizers` on a varied text (digit runs,
upper-case contractions, CJK, emoji, CRLF, space and punctuation runs) and written as
hf-tokenizer-pretok/<name>/tokenizer.json, and the same vocabulary as a vocabulary-only GGUF
(tokenizer.ggml.model "gpt2", tokenizer.ggml.pre as llama.cpp's converter names it) as
hf-tokenizer-pretok/<name>.gguf. expected.json holds the reference ids per text: hand-picked
cases and 60 seeded random strings over the characters the regexes tell apart.

- qwen2: Sequence[Split(Regex <Qwen2's pattern>, Isolated), ByteLevel(use_regex false)] — the
  pre_tokenizer of Qwen2/Qwen3(-MoE) tokenizer.json files; llama.cpp pre "qwen2".
- refact: Sequence[Digits(individual_digits true), ByteLevel(use_regex true)] — Granite's
  (StarCoder's) tokenizer.json; llama.cpp pre "refact".

Run with `make pretokenizer-fixtures`; the small outputs are committed. Python makes fixtures only.
Pinned: tokenizers==0.22.2, gguf==0.19.0.
"""
import json
import os
import random
from importlib.metadata import version

import gguf
import tokenizers
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

assert tokenizers.__version__ == "0.22.2", f"pinned tokenizers 0.22.2, found {tokenizers.__version__}"
assert version("gguf") == "0.19.0", f"pinned gguf 0.19.0, found {version('gguf')}"

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "The year 2024 had 365 days; 1,000,000 people said \"hello\" 12345 times.",
    "IT'S HE'LL WE'VE THEY'RE I'M SHE'D DON'T it's he'll we've they're i'm she'd don't",
    "漢字とかなカナ、中文字符。한국어 텍스트 😀🙂👍🏽 emoji!!",
    "line one\r\nline two\n\nline three\r\n\r\n  indented\tTabbed   spaced    out",
    "punctuation... ?!?! --- *** ((nested)) [x] {y} <z> @#$% ^&* ~`|\\ ;;",
    "naïve café résumé über straße e\u0301 ½ ² Ⅻ ٣",
] * 20

SAMPLES = [
    "The year 2024 had 365 days.",
    "IT'S HE'LL WE'VE THEY'RE I'M SHE'D 'S 'x",
    "it's   spaced\tout.\n\nNew paragraph 12345.",
    "line one\r\nline two\r\n\r\n  indented",
    "漢字とかなカナ、中文字符。😀🙂👍🏽",
    "punctuation... ?!?!\n--- ((nested))\n\n",
    "  leading and trailing  ",
    "naïve café ½ ² Ⅻ ٣ x1y22z333",
    "a\n \n b .hello ..world  !! ok \t\n",
    "<|endoftext|> is special",
]
# Random strings over the characters whose classes the splits tell apart, so every alternative of
# each regex meets every neighbour (seeded: the fixture is reproducible).
POOL = ["a", "Z", "é", "漢", "7", "½", "Ⅻ", " ", " ", "\t", "\n", "\r", "'", "s", "T", "re", "LL", ".", "!", "😀", "\u0301", "\u00a0"]
rng = random.Random(8)
SAMPLES += ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 24))) for _ in range(60)]

PRE_TOKENIZERS = {
    "qwen2": pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)]),
    "refact": pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)]),
}

here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.join(here, "hf-tokenizer-pretok")
expected = {}
for name, pre in PRE_TOKENIZERS.items():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer)
    os.makedirs(os.path.join(out_dir, name), exist_ok=True)
    tokenizer.save(os.path.join(out_dir, name, "tokenizer.json"))

    # Vocabulary-only GGUF as convert_hf_to_gguf's get_vocab_base + SpecialVocab write it.
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    reverse = {i: t for t, i in vocab.items()}
    added = tokenizer.get_added_tokens_decoder()
    tokens = [reverse[i] for i in range(len(reverse))]
    types = [gguf.TokenType.CONTROL if i in added else gguf.TokenType.NORMAL for i in range(len(reverse))]
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    writer = gguf.GGUFWriter(os.path.join(out_dir, f"{name}.gguf"), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(name)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_eos_token_id(vocab["<|endoftext|>"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    expected[name] = [{"text": s, "ids": tokenizer.encode(s).ids} for s in SAMPLES]

with open(os.path.join(out_dir, "expected.json"), "w") as f:
    json.dump(expected, f, ensure_ascii=False, indent=1)
    f.write("\n")
