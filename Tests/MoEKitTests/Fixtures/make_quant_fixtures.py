"""Block-format fixtures made by the `gguf` PyPI package (gguf-py, ggml's own Python port), for
QuantizationTests. Run once with `make quant-fixtures`; the small outputs are committed.
Python is for fixture making only; the product never runs it.
Pinned: gguf==0.19.0 (numpy 2.x).

Writes, under quant/ beside this script (or argv[1]):
- manifest.json: gguf's version and, per type, rows × cols and whether the blocks were made by
  gguf's quantiser.
- <type>.input.f32: the f32 rows quantised (Q8_0, Q4_0, Q5_0, Q5_1 only), little-endian.
- <type>.blocks: the quantised rows, ggml's block layout.
- <type>.dequant.f32: gguf.quants.dequantize of those blocks.

Q8_0, Q4_0, Q5_0 and Q5_1 blocks come from gguf.quants.quantize on rows with awkward blocks: zeros, tiny,
huge (scale still finite in f16), one-signed, ties of magnitude, exact .5 rounding points.
gguf 0.19.0 has no Q4_K, Q5_K or Q6_K quantiser (it raises NotImplementedError), so those blocks are
seeded random bytes (every bit pattern of the quants and packed scales is a valid block) with
their f16 scales drawn finite, plus hand-made extremes; gguf's dequantiser is still the oracle.
"""
import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf
from gguf.quants import quantize, dequantize
from gguf.constants import GGMLQuantizationType as T

PINNED = "0.19.0"
if importlib.metadata.version("gguf") != PINNED:
    raise SystemExit(f"gguf {importlib.metadata.version('gguf')} installed, fixtures are pinned to {PINNED} (make quant-fixtures)")
out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "quant")
os.makedirs(out_dir, exist_ok=True)
rng = np.random.default_rng(20240608)


def awkward_rows(cols: int, rows: int) -> np.ndarray:
    """Rows of 32-blocks, each block one kind of awkward (cycled), as f32."""
    blocks = []
    kinds = [
        lambda: rng.standard_normal(32),                       # ordinary
        lambda: np.zeros(32),                                  # all zero: d = 0, 1/d guarded
        lambda: rng.standard_normal(32) * 1e-6,                # tiny: d is an f16 subnormal
        lambda: rng.standard_normal(32) * 1e5,                 # huge: d near the f16 range's top
        lambda: -np.abs(rng.standard_normal(32)) - 0.1,        # negative only
        lambda: np.abs(rng.standard_normal(32)) + 0.1,         # positive only
        lambda: np.tile([-3.0, 3.0, 1.0, -1.0], 8),            # ties of magnitude (argmax picks the first)
        # Q8_0: max 127 gives d = 1 exactly, so these land on .5 and round away from zero.
        lambda: np.array([127.0, -127.0] + [k + 0.5 for k in range(-15, 15)]),
        # Q4_0: max −8 gives d = 1, so x + 8.5 lands on whole numbers and halves.
        lambda: np.array([-8.0] + [k * 0.5 for k in range(-15, 16)]),
        lambda: rng.uniform(-1, 1, 32) * np.where(rng.random(32) < 0.5, 1e-3, 10.0),  # mixed magnitudes
    ]
    for b in range(rows * cols // 32):
        blocks.append(kinds[b % len(kinds)]())
    return np.concatenate(blocks).astype(np.float32).reshape(rows, cols)


def random_k_blocks(qtype, count: int) -> np.ndarray:
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(count, type_size), dtype=np.uint8)
    scale_offsets = [0, 2] if qtype in (T.Q4_K, T.Q5_K) else [type_size - 2]   # Q4_K/Q5_K: d, dmin; Q6_K: d last

    def put_half(b, offset, value):
        blocks[b, offset:offset + 2] = np.array([value], dtype=np.float16).view(np.uint8)

    for b in range(count):
        for offset in scale_offsets:
            put_half(b, offset, rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(-6, 2))
    # Extremes: an all-zero block; all-ones bits with d = 1 (max scales and quants); a block whose
    # scale is the largest finite f16; one with an f16-subnormal scale.
    blocks[0, :] = 0
    blocks[1, :] = 0xFF
    for offset in scale_offsets:
        put_half(1, offset, 1.0)
        put_half(2, offset, 65504.0)
        put_half(3, offset, 6e-8)
    return blocks


manifest = {"gguf": PINNED, "types": {}}


def write_quantized(qtype, rows: int, cols: int):
    """Awkward rows quantised by gguf, with their dequantisation: the files of a type gguf quantises."""
    values = awkward_rows(cols, rows)
    blocks = quantize(values, qtype)
    restored = dequantize(blocks, qtype)
    name = qtype.name.lower()
    values.tofile(os.path.join(out_dir, f"{name}.input.f32"))
    blocks.tofile(os.path.join(out_dir, f"{name}.blocks"))
    restored.astype(np.float32).tofile(os.path.join(out_dir, f"{name}.dequant.f32"))
    manifest["types"][qtype.name] = {"rows": rows, "cols": cols, "quantizedByGGUF": True}


for qtype, rows, cols in [(T.Q8_0, 6, 160), (T.Q4_0, 6, 160)]:
    write_quantized(qtype, rows, cols)

# Q5_K last, so that the generator's draws for the others stay what they were.
for qtype, rows, cols in [(T.Q4_K, 4, 512), (T.Q6_K, 4, 512), (T.Q5_K, 4, 512)]:
    try:
        quantize(np.zeros((1, 256), dtype=np.float32), qtype)
        raise SystemExit(f"gguf now quantises {qtype.name}: make these fixtures with it")
    except NotImplementedError:
        pass
    blocks = random_k_blocks(qtype, rows * cols // 256).reshape(rows, -1)
    restored = dequantize(blocks, qtype)
    name = qtype.name.lower()
    blocks.tofile(os.path.join(out_dir, f"{name}.blocks"))
    restored.astype(np.float32).tofile(os.path.join(out_dir, f"{name}.dequant.f32"))
    manifest["types"][qtype.name] = {"rows": rows, "cols": cols, "quantizedByGGUF": False}

# Q5_0 and Q5_1 last (after the K formats), so that the generator's draws for the others stay what they were.
for qtype, rows, cols in [(T.Q5_0, 6, 160), (T.Q5_1, 6, 160)]:
    write_quantized(qtype, rows, cols)

with open(os.path.join(out_dir, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
    f.write("\n")
print("wrote", out_dir)
