"""Extra Hugging Face `tokenizers` expectations for the SentencePiece-style tokenizer.json path.

Reuses the committed hf-tokenizer-sentencepiece/tokenizer.json (made by make_hf_fixtures.py) and
1. rewrites its expected.json with the original samples plus spaces before combining marks (the
   original samples' ids are asserted unchanged);
2. writes hf-tokenizer-metaspace/: the same vocabulary spelled the way transformers converts
   LLaMA/Mistral today — no normalizer, a Metaspace pre-tokenizer with prepend_scheme "first" —
   with samples that put added tokens first, in the middle, and text that already starts with "▁".
Pinned: tokenizers==0.22.2 (via transformers==4.57.1).
"""
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer, decoders, pre_tokenizers

assert tokenizers.__version__ == "0.22.2", tokenizers.__version__
here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
source = os.path.join(here, "hf-tokenizer-sentencepiece")

COMBINING = [
    "a \u0301b",
    "space before marks: e \u0301 \u0308\u0301 x \u035c\u0361y",
    " \u0301",
    "tab\t\u0301 and newline\n\u0301",
]
METASPACE = [
    "Hello world",
    " leading space",
    "\u2581already escaped",
    "<s>Hello world",
    "Hello<s> world",
    "Hello <s>world</s> again",
    "<s> spaced after special",
    "  two leading",
    "combining \u0301 after space",
    "",
]


def cases(tokenizer, texts, skip_special):
    out = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        out.append({"text": text, "ids": ids, "decoded": tokenizer.decode(ids, skip_special_tokens=skip_special)})
    return out


sentence_piece = Tokenizer.from_file(os.path.join(source, "tokenizer.json"))
with open(os.path.join(source, "expected.json")) as f:
    original = json.load(f)
refreshed = cases(sentence_piece, [c["text"] for c in original], skip_special=True)
assert refreshed == original, "the original samples changed: wrong tokenizers version?"
with open(os.path.join(source, "expected.json"), "w") as f:
    json.dump(refreshed + cases(sentence_piece, COMBINING, skip_special=True), f, ensure_ascii=False, indent=1)

metaspace = Tokenizer.from_file(os.path.join(source, "tokenizer.json"))
metaspace.normalizer = None
metaspace.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
metaspace.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                       decoders.Strip(" ", 1, 0)])
target = os.path.join(here, "hf-tokenizer-metaspace")
os.makedirs(target, exist_ok=True)
metaspace.save(os.path.join(target, "tokenizer.json"))
with open(os.path.join(target, "expected.json"), "w") as f:
    json.dump(cases(metaspace, METASPACE + COMBINING, skip_special=False), f, ensure_ascii=False, indent=1)
print("wrote", source, "and", target)
