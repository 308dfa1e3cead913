"""Reference fixtures for SentencePiece `tokenizer.model` support, made with the `sentencepiece` library.

Run with `make sentencepiece-fixtures`; the small outputs are committed and read by the Swift tests.
Python is for fixture making only; the product never runs it.
Pinned: sentencepiece==0.2.3 (training and encoding must not drift between versions).

Writes, for each model, <name>/tokenizer.model, <name>/expected.json ([{text, ids, decoded}]) and
<name>/decode.json ([{ids, decoded}] for id sequences encoding never yields: stray bytes, control
pieces, repeated "▁").
- sentencepiece-bpe: BPE, identity normaliser (LLaMA-style: dummy prefix, no whitespace
  squeezing), byte fallback, split digits, user-defined symbols.
- sentencepiece-unigram: Unigram, no byte fallback (unknown runs fuse into one <unk>), default
  whitespace squeezing, user-defined symbols, and a small custom normalisation rule table so the
  precompiled charsmap (double-array trie) is exercised without committing nmt_nfkc's 240 kB.
"""
import io
import json
import os
import sys

import sentencepiece as spm

assert spm.__version__ == "0.2.3", f"pinned sentencepiece 0.2.3, found {spm.__version__}"
out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

CORPUS = """To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune, or to take arms against a sea of troubles.
In the beginning God created the heaven and the earth. And the earth was without form, and void.
The quick brown fox jumps over the lazy dog's back; it's 42 degrees outside, 17.5 tomorrow.
def encode(self, text: str) -> list[int]:
    return [self.vocab[token] for token in text.split()]
for (int i = 0; i < n; ++i) { sum += values[i] * weights[i]; }
Mixture-of-experts models route every token to a few experts chosen by a small gating network.
The router's softmax picks the top two experts; their outputs are weighted and summed.
Numbers like 1234567890, 3.14159 and 2025-06-01 appear in text, logs and code.
naïve café résumé façade — déjà vu, jalapeño, Ångström, São Paulo, Zürich.
漢字かなカナ交じり文、東京は日本の首都です。中文文本也在这里。한국어 문장도 있습니다.
Привет, мир! Ελληνικά γράμματα. שלום עולם. مرحبا بالعالم.
Emoji appear too: 🙂 👍 🚀 ❤️ and the end.
"""
TEXTS = [
    "To be, or not to be",
    "Hello world! It's a test.",
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return x * 2  # double\n",
    "for (int i = 0; i < n; ++i) { sum += v[i]; }",
    "emoji 🙂👍🏽🧑‍🚀 flags 🇫🇷 and ❤️",
    "CJK 漢字かな 한국어 中文",
    "combining e\u0301 a\u0308\u0301 Z\u035c\u0361 and a space before a mark: \u0301x",
    "digits 1234567890 and 3.14159 and 2025-06-01",
    "  many   spaces   inside  ",
    " leading space",
    "trailing space ",
    "   ",
    "",
    "tabs\tand\nnewlines\r\n and\t\ttwo tabs",
    "unknown ☃ ⚙ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 characters",
    "user symbols <sep> and <mask> and [INST] inline<sep>glued",
    "control pieces <s> and </s> and <unk> typed as text",
    "▁already ▁escaped ▁▁ text",
    "Full-width ＡＢＣ１２３ and ligature ﬁne and circled ① ②",
    "naïve café — Ångström Zürich",
    "Привет, мир! Ελληνικά. שלום. مرحبا.",
    "x",
    "\u3000ideographic\u3000space",
]
USER_SYMBOLS = ["<sep>", "<mask>", "[INST]"]
# Custom normalisation rules (source code points, tab, target code points), longest match wins:
# full-width letters and digits, a ligature, circled digits, tab and ideographic space to ' ',
# and a two-character rule so that longest-prefix matching is exercised.
RULES = (
    [f"{0xFF21 + k:X}\t{0x41 + k:X}" for k in range(26)]
    + [f"{0xFF10 + k:X}\t{0x30 + k:X}" for k in range(10)]
    + ["FB01\t66 69", "2460\t31", "2461\t32", "9\t20", "3000\t20", "65 301\tE9", "61 308 301\tE4 301"]
)


def train(name, **options):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS.splitlines() * 4), model_writer=model,
                                   user_defined_symbols=USER_SYMBOLS, hard_vocab_limit=False,
                                   minloglevel=2, **options)
    target = os.path.join(out_dir, name)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "tokenizer.model"), "wb") as f:
        f.write(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    cases = [{"text": t, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))} for t in TEXTS]
    with open(os.path.join(target, "expected.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    byte = lambda b: sp.piece_to_id(f"<0x{b:02X}>")
    word = sp.encode("the")
    sequences = [
        [sp.bos_id()] + word + [sp.eos_id()],
        [sp.piece_to_id("▁")] * 3 + word,
        [sp.unk_id()] + word + [sp.unk_id()],
        word + [sp.piece_to_id("<sep>")] + word,
    ]
    if sp.piece_to_id("<0x41>") != sp.unk_id():
        sequences += [
            [byte(0x41), byte(0x80), byte(0x42), byte(0xE2), byte(0x82)],
            [byte(0xE2), byte(0x82)] + word + [byte(0xAC)],
            [byte(0x20)] + word,
            [byte(0xF0), byte(0x9F), byte(0x99), byte(0x82)] + word,
        ]
    with open(os.path.join(target, "decode.json"), "w") as f:
        json.dump([{"ids": s, "decoded": sp.decode(s)} for s in sequences], f, ensure_ascii=False, indent=0)
    print(name, sp.get_piece_size(), "pieces,", len(model.getvalue()), "bytes")


train("sentencepiece-bpe", model_type="bpe", vocab_size=700, byte_fallback=True, split_digits=True,
      normalization_rule_name="identity", remove_extra_whitespaces=False, character_coverage=0.995)

rules_path = os.path.join(out_dir, "sentencepiece-unigram-rules.tsv")
with open(rules_path, "w") as f:
    f.write("\n".join(RULES) + "\n")
try:
    train("sentencepiece-unigram", model_type="unigram", vocab_size=500, normalization_rule_tsv=rules_path,
          character_coverage=0.995)
finally:
    os.remove(rules_path)
