"""PyTorch `.bin` fixtures made by the real torch.save, for TorchCheckpointTests.

Run once with `make torch-fixtures`; the small outputs are committed and read by the Swift tests.
Python is for fixture making only; the product never runs it.
Pinned: torch==2.13.0 (CPU build), safetensors.

Writes, under the fixtures directory (argv[1], default: beside this script):
- torch-moepp/: a tiny MoE++ in the official release's layout: 2 shards
  pytorch_model-0000N-of-00002.bin + pytorch_model.bin.index.json + config.json, bf16 weights,
  fp32 router (mlp.moe.gate.wg.weight). Shard 1 is a module-style OrderedDict carrying `_metadata`
  (pickled with BUILD, as `model.state_dict()` is); shard 2 a plain dict (as transformers' shard
  splitting writes it). tokenizer.json is the byte-level fixture's (300 ids = vocab_size).
- torch-moepp-safetensors/: the same tensors, same dtypes, as model.safetensors + config.json.
- torch-shared/shared-storage.bin: tensors that are views of one storage at different offsets.
- torch-hostile/: files a weights-only reader must refuse, each for one reason.
"""
import collections
import io
import json
import os
import pickle
import shutil
import sys
import zipfile

import torch
from safetensors.torch import save_file

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
MAX_FILE_BYTES = 200_000

HIDDEN, LAYERS, INTERMEDIATE, HEADS, VOCAB = 32, 2, 64, 4, 300
FFN_EXPERTS = 4
EXPERTS = FFN_EXPERTS + 4  # + 2 constant + copy + zero

CONFIG = {
    "model_type": "moe++",
    "architectures": ["MoEPlusPlusForCausalLM"],
    "vocab_size": VOCAB,
    "hidden_size": HIDDEN,
    "intermediate_size": INTERMEDIATE,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": HEADS,
    "hidden_act": "silu",
    "max_position_embeddings": 128,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "torch_dtype": "bfloat16",
    "num_experts": [EXPERTS],
    "moe_topk": 2,
    "moe_expert_interval": 1,
    "moe_use_mixtral_gating": False,
    "moe_2layer_gate": False,
    "moe_use_logits_norm": True,
    "moe_gate_norm_std": 1.0,
    "moe_feature_no_mul_topk": True,
}


def weight(*shape, dtype=torch.bfloat16, scale=0.2):
    # Each tensor owns its storage, as in a checkpoint saved from a model's parameters.
    return (torch.randn(*shape) * scale).to(dtype).contiguous()


def layer_tensors(layer):
    p = f"model.layers.{layer}."
    t = collections.OrderedDict()
    for name in ["q_proj", "k_proj", "v_proj", "o_proj"]:
        t[p + f"self_attn.{name}.weight"] = weight(HIDDEN, HIDDEN)
    t[p + "input_layernorm.weight"] = 1 + weight(HIDDEN, scale=0.05)
    t[p + "post_attention_layernorm.weight"] = 1 + weight(HIDDEN, scale=0.05)
    t[p + "mlp.moe.gate.wg.weight"] = weight(EXPERTS, HIDDEN, dtype=torch.float32)
    t[p + "mlp.moe.gate.gate_map.weight"] = weight(EXPERTS, EXPERTS)
    for e in range(FFN_EXPERTS):
        t[p + f"mlp.moe.experts.experts.{e}.up_proj.weight"] = weight(2 * INTERMEDIATE, HIDDEN)
        t[p + f"mlp.moe.experts.experts.{e}.down_proj.weight"] = weight(HIDDEN, INTERMEDIATE)
    for e in range(FFN_EXPERTS, FFN_EXPERTS + 2):
        t[p + f"mlp.moe.experts.experts.{e}.constant"] = weight(HIDDEN)
        t[p + f"mlp.moe.experts.experts.{e}.wg.weight"] = weight(2, HIDDEN)
    return t


def check_size(path):
    size = os.path.getsize(path)
    assert size < MAX_FILE_BYTES, f"{path}: {size} bytes, over the {MAX_FILE_BYTES} fixture budget"


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def fresh_dir(name):
    path = os.path.join(out_dir, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def make_moepp():
    torch.manual_seed(0)
    shard1 = layer_tensors(0)
    # What nn.Module.state_dict() attaches; torch.save pickles it with BUILD.
    shard1._metadata = collections.OrderedDict([("", {"version": 1})])
    shard2 = dict(layer_tensors(1))
    shard2["model.embed_tokens.weight"] = weight(VOCAB, HIDDEN)
    shard2["model.norm.weight"] = 1 + weight(HIDDEN, scale=0.05)
    shard2["lm_head.weight"] = weight(VOCAB, HIDDEN)

    target = fresh_dir("torch-moepp")
    names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    weight_map = {}
    for shard, name in zip([shard1, shard2], names):
        torch.save(shard, os.path.join(target, name))
        check_size(os.path.join(target, name))
        weight_map.update({key: name for key in shard})
    total = sum(t.numel() * t.element_size() for s in [shard1, shard2] for t in s.values())
    write_json(os.path.join(target, "pytorch_model.bin.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(os.path.join(target, "config.json"), CONFIG)
    tokenizer = os.path.join(out_dir, "hf-tokenizer-bytelevel", "tokenizer.json")
    with open(tokenizer) as f:
        assert len(json.load(f)["model"]["vocab"]) == VOCAB
    shutil.copy(tokenizer, os.path.join(target, "tokenizer.json"))

    # Read back through torch itself, weights-only, mapped: what a user's torch would do.
    for shard, name in zip([shard1, shard2], names):
        loaded = torch.load(os.path.join(target, name), weights_only=True, mmap=True)
        assert list(loaded) == list(shard)
        assert all(loaded[k].dtype == t.dtype and torch.equal(loaded[k], t) for k, t in shard.items())

    copy = fresh_dir("torch-moepp-safetensors")
    everything = {**shard1, **shard2}
    save_file(everything, os.path.join(copy, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(copy, "model.safetensors"), 0o644)
    check_size(os.path.join(copy, "model.safetensors"))
    write_json(os.path.join(copy, "config.json"), CONFIG)


def make_shared_storage():
    target = fresh_dir("torch-shared")
    base = torch.arange(40, dtype=torch.float32)
    fused = (torch.arange(2 * 8 * 4, dtype=torch.float32) / 8).to(torch.bfloat16).view(16, 4)
    state = collections.OrderedDict()
    state["whole"] = base                     # storage offset 0, all 40 elements
    state["rows"] = base[10:30].view(4, 5)    # offset 10
    state["tail"] = base[30:]                 # offset 30
    state["gate"] = fused[:8]                 # the two halves of a fused up_proj: one storage
    state["up"] = fused[8:]                   # offset 32
    state["column"] = base[5:6].view(1, 1)    # size-1 dimensions: strides do not matter
    path = os.path.join(target, "shared-storage.bin")
    torch.save(state, path)
    check_size(path)
    expected = {name: {"offset_elements": t.storage_offset(), "shape": list(t.shape),
                       "values": t.float().flatten().tolist()} for name, t in state.items()}
    with open(os.path.join(target, "expected.json"), "w") as f:
        json.dump(expected, f)


def zip_with_pickle(path, pickle_bytes):
    """A torch-shaped archive around a hand-written pickle (payload alignment is irrelevant here:
    the pickle is refused before any storage is looked at)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")


def make_hostile():
    target = fresh_dir("torch-hostile")
    proto = b"\x80\x02"
    text = lambda s: b"X" + len(s).to_bytes(4, "little") + s.encode()
    cases = {
        # The classic: call os.system with a shell command.
        "global-os-system.bin": proto + b"cos\nsystem\n" + text("echo owned") + b"\x85R.",
        # eval of a string, through REDUCE.
        "global-builtins-eval.bin": proto + b"cbuiltins\neval\n" + text("1+1") + b"\x85R.",
        # An allowed global used as a callable it is not allowed to be: a storage class called.
        "reduce-unlisted.bin": proto + b"ctorch\nFloatStorage\nK\x04\x85R.",
        # Protocol 0 INST: imports and calls in one opcode.
        "opcode-inst.bin": proto + b"(iposix\nsystem\n" + text("echo owned") + b".",
        # A protocol-4 pickle starts with FRAME, which protocol 2 never writes.
        "opcode-frame.bin": pickle.dumps(collections.OrderedDict(), protocol=4),
    }
    for name, data in cases.items():
        zip_with_pickle(os.path.join(target, name), data)

    torch.manual_seed(1)
    # A transposed view keeps its strides through torch.save: (3, 4) with strides (1, 3).
    torch.save({"transposed": torch.randn(4, 3).t()}, os.path.join(target, "non-contiguous.bin"))
    # int64 storages (LongStorage) are outside the supported dtypes.
    torch.save({"ids": torch.arange(4)}, os.path.join(target, "int64-tensor.bin"))

    # A big-endian machine's file: the same archive with byteorder "big".
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(4)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(os.path.join(target, "big-endian.bin"), "w", zipfile.ZIP_STORED) as z:
        for info in source.infolist():
            data = b"big" if info.filename.endswith("/byteorder") else source.read(info.filename)
            z.writestr(info.filename, data)
    for name in os.listdir(target):
        check_size(os.path.join(target, name))


make_moepp()
make_shared_storage()
make_hostile()
print("torch fixtures written to", out_dir)
