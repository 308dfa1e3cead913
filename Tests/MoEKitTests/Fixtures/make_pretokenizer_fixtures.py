"""Byte-level BPE tokenizers with the pre-tokenizers real model files ship, and the ids the
`tokenizers` library gives for varied texts, so moepp's hand-written splits are held to it.

For each pre-tokenizer a tiny BPE is trained with `tokenizers` on a varied text (digit runs,
upper-case contractions, CJK, kana, Hangul, emoji, marks, CRLF, space and punctuation runs) and
written as hf-tokenizer-pretok/<name>/tokenizer.json, and the same vocabulary as a vocabulary-only
GGUF (tokenizer.ggml.model "gpt2", tokenizer.ggml.pre as llama.cpp's converter names it) as
hf-tokenizer-pretok/<name>.gguf. expected.json holds the reference ids per text: hand-picked
cases and 60 seeded random strings over the characters the regexes tell apart. splits.json holds
the library's own pieces (its pre_tokenizer, byte-level letters mapped back to text) for 200 more
seeded random strings, for every pre-tokenizer and for GPT-2's plain ByteLevel.

- qwen2: Sequence[Split(Regex <Qwen2's pattern>, Isolated), ByteLevel(use_regex false)] — the
  pre_tokenizer of Qwen2/Qwen3(-MoE) tokenizer.json files; llama.cpp pre "qwen2".
- refact: Sequence[Digits(individual_digits true), ByteLevel(use_regex true)] — Granite's
  (StarCoder's) tokenizer.json; llama.cpp pre "refact".
- llama3, deepseek-v3, deepseek-llm, deepseek-coder: the pre_tokenizer sections of
  Meta-Llama-3's, DeepSeek-V3's, DeepSeek LLM / DeepSeek-V2's and DeepSeek Coder's tokenizer.json,
  verbatim (REAL_PRE_TOKENIZERS below; the saved files are checked to carry them unchanged), with
  Meta-Llama-3's `ignore_merges` and bos TemplateProcessing; llama.cpp pre "llama-bpe",
  "deepseek-v3", "deepseek-llm", "deepseek-coder".

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

# The pre_tokenizer sections as the real tokenizer.json files spell them (JSON, non-ASCII escaped so
# no editor can normalise a character): Meta-Llama-3 (same in Llama 3.1/3.2), DeepSeek-V3 (also R1),
# DeepSeek LLM (also DeepSeek-MoE, DeepSeek-V2/V2-Lite, Coder-V2), DeepSeek Coder (1.x).
REAL_PRE_TOKENIZERS = json.loads(r"""{
"llama3": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
"deepseek-v3": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
"deepseek-llm": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "[\r\n]"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\ud801\udc00-\ud801\udc4f\ud801\udcb0-\ud801\udcd3\ud801\udcd8-\ud801\udcfb\ud803\udc80-\ud803\udcb2\ud803\udcc0-\ud803\udcf2\ud806\udca0-\ud806\udcdf\ud83a\udd00-\ud83a\udd43]+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s+$"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"}, "behavior": "Isolated", "invert": false}, {"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
"deepseek-coder": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "[\r\n]"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s?\\p{L}+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s?\\p{P}+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"}, "behavior": "Isolated", "invert": false}, {"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
}""")

CORPUS = [
    "The year 2024 had 365 days; 1,000,000 people said \"hello\" 12345 times.",
    "IT'S HE'LL WE'VE THEY'RE I'M SHE'D DON'T it's he'll we've they're i'm she'd don't",
    "漢字とかなカナ、中文字符。한국어 텍스트 😀🙂👍🏽 emoji!!",
    "line one\r\nline two\n\nline three\r\n\r\n  indented\tTabbed   spaced    out",
    "punctuation... ?!?! --- *** ((nested)) [x] {y} <z> @#$% ^&* ~`|\\ ;;",
    "naïve café résumé über straße e\u0301 ½ ² Ⅻ ٣",
    "def f(x_1): return x_1 + 42  # code.py, $PATH, a.b_c, 'quoted'",
    "Ελληνικά Кириллица नमस्ते दुनिया مرحبا שלום ＡＢＣ！（全角） “curly” ‘quotes’",
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
SAMPLES += [
    "1 12 123 1234 12345 1234567 x1234y ١٢٣٤ ½¾",
    "def f(x_1): return x_1 + 42  # code.py, $PATH, a.b_c",
    "Ελληνικά Кириллица नमस्ते مرحبا ＡＢＣ！（全角） “curly” ‘quotes’",
    "カタカナ ひらがな 한국어 텍스트 ゠ー・ \u3000全角\u3000空白",
    "it'ſ IT'S 'Ll 'rE Ω K ι ﬁ",
    "👨\u200d👩\u200d👧 ☀️ 👍🏽 e\u0301\u0302 a\u200bb",
    "tabs\t\tand\u000bvertical\u0085nel\u2028line\u2029para  end \u3000",
    " ignoremerges", "see ignoremerges.",
]
WHOLE_WORD = " ignoremerges"
# Wider pool: Unicode white space Hugging Face's \s knows (U+0085, U+000B, U+2028, U+3000),
# marks, kana, Hangul, full-width forms, the long s and the Kelvin sign (case folding, DeepSeek's
# letter list), ASCII symbols and a zero-width joiner.
WIDE_POOL = POOL + ["ſ", "\u212a", "カ", "ー", "한", "Ａ", "！", "、", "\u3000", "\u0085", "\u000b", "\u2028",
                    "_", "$", "+", "(", "’", "\u200d", "\u0915\u094d", "١", "１", "ß", "ǅ", "\u20dd", "😀\ufe0f", "'s", "'T"]
SAMPLES += ["".join(rng.choice(WIDE_POOL) for _ in range(rng.randint(1, 24))) for _ in range(60)]
SPLIT_TEXTS = ["".join(rng.choice(WIDE_POOL) for _ in range(rng.randint(1, 24))) for _ in range(200)]

PRE_TOKENIZERS = {
    "qwen2": pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)]),
    "refact": pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)]),
}
def from_json(pre_tokenizer):
    """A pre-tokenizer object from its tokenizer.json section, exactly as a file would load it."""
    holder = {"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": pre_tokenizer}
    return Tokenizer.from_str(json.dumps(holder)).pre_tokenizer
for name, spelling in REAL_PRE_TOKENIZERS.items():
    PRE_TOKENIZERS[name] = from_json(spelling)

# bos/eos as each family names them; Meta-Llama-3's tokenizer.json adds the bos in its post-processor.
SPECIALS = {"llama3": ["<|begin_of_text|>", "<|end_of_text|>"],
            "deepseek-v3": ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"],
            "deepseek-llm": ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"],
            "deepseek-coder": ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"]}
LLAMA3_POST_PROCESSOR = {"type": "Sequence", "processors": [
    {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    {"type": "TemplateProcessing",
     "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
     "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
              {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
     "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [0], "tokens": ["<|begin_of_text|>"]}}}]}
GGUF_PRE = {"qwen2": "qwen2", "refact": "refact", "llama3": "llama-bpe", "deepseek-v3": "deepseek-v3",
            "deepseek-llm": "deepseek-llm", "deepseek-coder": "deepseek-coder"}

here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.join(here, "hf-tokenizer-pretok")
expected = {}
for name, pre in PRE_TOKENIZERS.items():
    specials = SPECIALS.get(name, ["<|endoftext|>"])
    tokenizer = Tokenizer(models.BPE(ignore_merges=(name == "llama3")))
    tokenizer.pre_tokenizer = pre
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer)
    if name == "llama3":
        document = json.loads(tokenizer.to_str())
        document["post_processor"] = LLAMA3_POST_PROCESSOR
        # Meta-Llama-3's vocabulary holds words its merges never build, which is why it sets
        # ignore_merges; give this one such a word, so the ids tell whether a reader honours it.
        word = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False).pre_tokenize_str(WHOLE_WORD)[0][0]
        assert word not in document["model"]["vocab"]
        document["model"]["vocab"][word] = len(document["model"]["vocab"])
        tokenizer = Tokenizer.from_str(json.dumps(document))
        assert len(tokenizer.encode(WHOLE_WORD).ids) == 2  # bos + the whole word; merges alone make more
    document = json.loads(tokenizer.to_str())
    if name in REAL_PRE_TOKENIZERS:
        assert document["pre_tokenizer"] == REAL_PRE_TOKENIZERS[name], f"{name}: saved pre_tokenizer differs"
        assert document["model"]["ignore_merges"] == (name == "llama3")
    os.makedirs(os.path.join(out_dir, name), exist_ok=True)
    tokenizer.save(os.path.join(out_dir, name, "tokenizer.json"))

    # Vocabulary-only GGUF as convert_hf_to_gguf's get_vocab_base + SpecialVocab write it. No
    # add_bos_token key: llama.cpp's default for the pre-tokenizer (true for llama-bpe) applies.
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    reverse = {i: t for t, i in vocab.items()}
    added = tokenizer.get_added_tokens_decoder()
    tokens = [reverse[i] for i in range(len(reverse))]
    types = [gguf.TokenType.CONTROL if i in added else gguf.TokenType.NORMAL for i in range(len(reverse))]
    merges = document["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    writer = gguf.GGUFWriter(os.path.join(out_dir, f"{name}.gguf"), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(GGUF_PRE[name])
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    if len(specials) == 2:
        writer.add_bos_token_id(vocab[specials[0]])
    writer.add_eos_token_id(vocab[specials[-1]])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    expected[name] = [{"text": s, "ids": tokenizer.encode(s).ids} for s in SAMPLES]

with open(os.path.join(out_dir, "expected.json"), "w") as f:  # one case a line
    f.write("{\n" + ",\n".join(f" {json.dumps(name)}: [\n" + ",\n".join("  " + json.dumps(case, ensure_ascii=False) for case in cases)
                               + "\n ]" for name, cases in expected.items()) + "\n}\n")

# The library's pieces, byte-level letters mapped back to the text they spell.
def unmap(piece):
    return decoders.ByteLevel().decode([piece])
split_steps = dict(PRE_TOKENIZERS, gpt2=pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
splits = {"texts": SPLIT_TEXTS,
          "splits": {name: [[unmap(piece) for piece, _ in pre.pre_tokenize_str(text)] for text in SPLIT_TEXTS]
                     for name, pre in split_steps.items()}}
with open(os.path.join(out_dir, "splits.json"), "w") as f:
    json.dump(splits, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")
