"""GGUF fixtures written with the `gguf` PyPI package's GGUFWriter, the way llama.cpp's
convert_hf_to_gguf.py converts (its LlamaModel / OlmoeModel classes):

- the tiny HF Mixtral and OLMoE of make_hf_fixtures.py (hf-mixtral, hf-olmoe) at F32 and F16:
  general.architecture `llama` (Mixtral) / `olmoe`; `{arch}.*` hyper-parameters as
  TextModel.set_gguf_parameters writes them (block_count, context_length, embedding_length,
  feed_forward_length, attention.head_count(_kv), rope.freq_base,
  attention.layer_norm_rms_epsilon, expert_count, expert_used_count; llama adds vocab_size and
  rope.dimension_count; OlmoeModel forces the rms epsilon to 1e-5); tensor names from gguf-py's
  TensorNameMap; for llama the q/k rows permuted for ggml's adjacent-pair RoPE
  (LlamaModel.permute: reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2), k with the kv
  head count); experts stacked on a new first axis into blk.N.ffn_{gate,up,down}_exps
  (w1 = gate, w3 = up, w2 = down); 1-D tensors, norms and the router (ffn_gate_inp) stay F32 at
  F16 as the converter keeps them. Each carries a tiny tokenizer of the model's 64-token
  vocabulary: SentencePiece BPE (tokenizer.ggml.model "llama", _set_vocab_sentencepiece's
  tokens/scores/token types) for Mixtral, byte-level BPE ("gpt2", pre "olmo", tokens/types/merges)
  for OLMoE.
- the tiny HF Qwen2-MoE, Qwen3-MoE and Granite-MoE of make_hf_family_fixtures.py at F32 and F16
  (write_family: llama.cpp's Qwen2MoeModel / Qwen3MoeModel / GraniteMoeModel).
- the tiny HF DeepSeek-V2 (q_proj, group-limited, YaRN, tied), V2-greedy (q LoRA) and V3 of
  make_hf_deepseek_fixtures.py at F32 and F16 (write_deepseek: llama.cpp's DeepseekV2Model,
  `deepseek2`), and V3 at F32 as converters before the MLA split wrote it (whole attn_kv_b).
- vocabulary-only files (no tensors, as llama.cpp's models/ggml-vocab-*.gguf) from the larger
  tokenizer fixtures: tokenizer-llama.gguf from sentencepiece-bpe/tokenizer.model,
  tokenizer-gpt2.gguf from hf-tokenizer-bytelevel/tokenizer.json.
- expected.json: for each tokenizer in a GGUF file, the ids its reference library (sentencepiece,
  tokenizers) gives for varied texts. The tiny byte-level vocabulary lacks most of the 256 byte
  symbols, so it is held only to texts of its own letters (real byte-level vocabularies hold all).

Run with `make gguf-fixtures`; the small outputs are committed. Python makes fixtures only.
Pinned: gguf==0.19.0, torch==2.13.0, sentencepiece==0.2.3, tokenizers==0.22.2, safetensors==0.8.0.
"""
import io
import json
import os
import sys

import gguf
import numpy as np
import sentencepiece as spm
import tokenizers
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

assert gguf.__version__ if hasattr(gguf, "__version__") else True
from importlib.metadata import version  # noqa: E402

assert version("gguf") == "0.19.0", f"pinned gguf 0.19.0, found {version('gguf')}"
assert spm.__version__ == "0.2.3", f"pinned sentencepiece 0.2.3, found {spm.__version__}"
assert tokenizers.__version__ == "0.22.2", f"pinned tokenizers 0.22.2, found {tokenizers.__version__}"
assert torch.__version__.startswith("2.13.0"), f"pinned torch 2.13.0, found {torch.__version__}"

here = os.path.dirname(os.path.abspath(__file__))
out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "gguf")
os.makedirs(out_dir, exist_ok=True)

SAMPLES = [
    "To be, or not to be",
    "Hello world! It's   spaced\tout.\n\nNew paragraph 12345.",
    "naïve café — emoji 🙂👍🏽 and combining e\u0301 and CJK 漢字",
    "they're we've I'll he'd 'S",
    "  leading and trailing  ",
    "<s> and </s> and <|endoftext|> as text",
]
TINY_CORPUS = ["the cat sat on the mat. a dog ran to the cat, and the cat ran on.",
               "to be or not to be, that is the question. the end."] * 30
TINY_SAMPLES = ["the cat sat on the mat.", "a dog ran to the end", "to be or not", "  the  cat "]


def permute(weights, n_head, n_head_kv):
    """LlamaModel.permute: rotate-half row order → ggml's adjacent pairs, per head."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


# ---------------------------------------------------------------- tokenizers

def llama_vocab(model_proto_bytes, vocab_size=None):
    """_create_vocab_sentencepiece: pieces, scores, token types (sentencepiece numbering), padded
    with [PADn] UNUSED entries up to the model's vocab_size."""
    sp = spm.SentencePieceProcessor(model_proto=model_proto_bytes)
    size = vocab_size or sp.vocab_size()
    tokens = [f"[PAD{i}]".encode() for i in range(size)]
    scores = [-1000.0] * size
    types = [gguf.TokenType.UNUSED] * size
    for i in range(sp.vocab_size()):
        tokens[i] = sp.id_to_piece(i).encode("utf-8")
        scores[i] = sp.get_score(i)
        t = gguf.TokenType.NORMAL
        if sp.is_unknown(i):
            t = gguf.TokenType.UNKNOWN
        elif sp.is_control(i):
            t = gguf.TokenType.CONTROL
        elif sp.is_unused(i):
            t = gguf.TokenType.UNUSED
        elif sp.is_byte(i):
            t = gguf.TokenType.BYTE
        types[i] = t
    # sentencepiece's Python API has no is_user_defined (the converter learns them from
    # added_tokens.json / tokenizer_config.json): read the piece types from the proto itself.
    for i, piece_type in enumerate(piece_types(model_proto_bytes)):
        if piece_type == 4:  # USER_DEFINED
            types[i] = gguf.TokenType.USER_DEFINED
    return sp, tokens, scores, types


def piece_types(data):
    """ModelProto.pieces[i].type (field 1 → field 3), with a minimal protobuf wire reader."""
    def varint(buf, pos):
        value, shift = 0, 0
        while True:
            byte = buf[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, pos

    def fields(buf):
        pos = 0
        while pos < len(buf):
            key, pos = varint(buf, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = varint(buf, pos)
            elif wire == 1:
                value, pos = buf[pos:pos + 8], pos + 8
            elif wire == 2:
                length, pos = varint(buf, pos)
                value, pos = buf[pos:pos + length], pos + length
            elif wire == 5:
                value, pos = buf[pos:pos + 4], pos + 4
            else:
                raise ValueError(f"wire type {wire}")
            yield number, value

    types = []
    for number, value in fields(data):
        if number == 1:
            types.append(dict(fields(value)).get(3, 1))
    return types


def add_llama_vocab(writer, model_proto_bytes, vocab_size=None, add_bos=None):
    sp, tokens, scores, types = llama_vocab(model_proto_bytes, vocab_size)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_unk_token_id(sp.unk_id())
    if add_bos is not None:
        writer.add_add_bos_token(add_bos)
    return [{"text": s, "ids": sp.encode(s)} for s in (SAMPLES + TINY_SAMPLES)]


def add_gpt2_vocab(writer, tokenizer, pre, samples):
    """get_vocab_base + SpecialVocab(load_merges=True): added special tokens are CONTROL."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    reverse = {i: t for t, i in vocab.items()}
    added = tokenizer.get_added_tokens_decoder()
    tokens, types = [], []
    for i in range(len(reverse)):
        tokens.append(reverse[i])
        if i in added:
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    special = [i for i in added if added[i].special][0]
    writer.add_bos_token_id(special)
    writer.add_eos_token_id(special)
    return [{"text": s, "ids": tokenizer.encode(s).ids} for s in samples]


def tiny_sentencepiece(corpus=TINY_CORPUS):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, model_type="bpe", vocab_size=64,
        character_coverage=1.0, normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, byte_fallback=False, bos_id=1, eos_id=2, unk_id=0,
        num_threads=1, minloglevel=2)
    return model.getvalue()


def tiny_byte_level(corpus=TINY_CORPUS):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=64, special_tokens=["<|endoftext|>"],
                                                             show_progress=False))
    return tok


# ---------------------------------------------------------------- models

def text_model_writer(name, arch, config, dtype, rms_eps):
    """A GGUFWriter with TextModel.set_gguf_parameters' keys (and the file type) written."""
    writer = gguf.GGUFWriter(os.path.join(out_dir, name), arch)
    writer.add_name(name)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_rope_freq_base(config["rope_theta"])
    writer.add_layer_norm_rms_eps(rms_eps)
    writer.add_expert_count(config.get("num_local_experts") or config["num_experts"])
    writer.add_expert_used_count(config["num_experts_per_tok"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == np.float32 else gguf.LlamaFileType.MOSTLY_F16)
    return writer


def write_model(name, hf_dir, arch, dtype, add_vocab):
    config = json.load(open(os.path.join(here, hf_dir, "config.json")))
    state = load_file(os.path.join(here, hf_dir, "model.safetensors"))
    writer = text_model_writer(name, arch, config, dtype, rms_eps=config["rms_norm_eps"] if arch == "llama" else 1e-5)
    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    n_experts = config.get("num_local_experts") or config["num_experts"]
    if arch == "llama":
        writer.add_vocab_size(config["vocab_size"])
        writer.add_rope_dimension_count(config["hidden_size"] // n_head)
    expected = add_vocab(writer)

    def put(gguf_name, tensor):
        data = tensor.to(torch.float32).numpy()
        keep_f32 = data.ndim <= 1 or gguf_name.endswith("_norm.weight") or ".ffn_gate_inp." in gguf_name
        writer.add_tensor(gguf_name, data.astype(np.float32 if keep_f32 else dtype))

    put("token_embd.weight", state["model.embed_tokens.weight"])
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}."
        q, k = state[p + "self_attn.q_proj.weight"], state[p + "self_attn.k_proj.weight"]
        if arch == "llama":
            q, k = permute(q, n_head, n_head), permute(k, n_head, n_kv)
        put(f"blk.{l}.attn_q.weight", q)
        put(f"blk.{l}.attn_k.weight", k)
        put(f"blk.{l}.attn_v.weight", state[p + "self_attn.v_proj.weight"])
        put(f"blk.{l}.attn_output.weight", state[p + "self_attn.o_proj.weight"])
        put(f"blk.{l}.attn_norm.weight", state[p + "input_layernorm.weight"])
        put(f"blk.{l}.ffn_norm.weight", state[p + "post_attention_layernorm.weight"])
        if arch == "llama":
            put(f"blk.{l}.ffn_gate_inp.weight", state[p + "block_sparse_moe.gate.weight"])
            for w, part in [("w1", "gate"), ("w2", "down"), ("w3", "up")]:
                stacked = torch.stack([state[p + f"block_sparse_moe.experts.{e}.{w}.weight"] for e in range(n_experts)])
                put(f"blk.{l}.ffn_{part}_exps.weight", stacked)
        else:
            put(f"blk.{l}.attn_q_norm.weight", state[p + "self_attn.q_norm.weight"])
            put(f"blk.{l}.attn_k_norm.weight", state[p + "self_attn.k_norm.weight"])
            put(f"blk.{l}.ffn_gate_inp.weight", state[p + "mlp.gate.weight"])
            for part in ["down", "gate", "up"]:
                stacked = torch.stack([state[p + f"mlp.experts.{e}.{part}_proj.weight"] for e in range(n_experts)])
                put(f"blk.{l}.ffn_{part}_exps.weight", stacked)
    put("output_norm.weight", state["model.norm.weight"])
    put("output.weight", state["lm_head.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def write_family(name, hf_dir, arch, dtype, add_vocab):
    """Qwen2-MoE, Qwen3-MoE and Granite-MoE the way llama.cpp's Qwen2MoeModel / Qwen3MoeModel /
    GraniteMoeModel convert them: names from gguf-py's own TensorNameMap for the architecture;
    TextModel's keys (+ key/value length where config.json has head_dim), the experts' width as
    expert_feed_forward_length and the shared expert's as expert_shared_feed_forward_length
    (Qwen); Granite as a LlamaModel (vocab_size, rope.dimension_count, q/k permuted, head_dim
    ignored) with its multipliers as attention.scale / embedding_scale / residual_scale /
    logit_scale and input_linear split into ffn_gate_exps and ffn_up_exps. 1-D tensors (norms,
    biases), ffn_gate_inp and ffn_gate_inp_shexp stay F32. Dense layers (mlp_only_layers) have no
    name in gguf-py's qwen2moe/qwen3moe tensor lists (the converter refuses them): they are written
    under gguf-py's plain FFN names ffn_{gate,up,down}, moepp's extension."""
    config = json.load(open(os.path.join(here, hf_dir, "config.json")))
    state = load_file(os.path.join(here, hf_dir, "model.safetensors"))
    gguf_arch = {"qwen2moe": gguf.MODEL_ARCH.QWEN2MOE, "qwen3moe": gguf.MODEL_ARCH.QWEN3MOE,
                 "granitemoe": gguf.MODEL_ARCH.GRANITE_MOE}[arch]
    n_layers = config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf_arch, n_layers)
    writer = text_model_writer(name, arch, config, dtype, rms_eps=config["rms_norm_eps"])
    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    if arch != "granitemoe" and config.get("head_dim") is not None:
        writer.add_key_length(config["head_dim"])
        writer.add_value_length(config["head_dim"])
    if arch == "granitemoe":
        writer.add_vocab_size(config["vocab_size"])
        writer.add_rope_dimension_count(config["hidden_size"] // n_head)
        writer.add_attention_scale(config["attention_multiplier"])
        writer.add_embedding_scale(config["embedding_multiplier"])
        writer.add_residual_scale(config["residual_multiplier"])
        writer.add_logit_scale(config["logits_scaling"])
    else:
        writer.add_expert_feed_forward_length(config["moe_intermediate_size"])
        if config.get("shared_expert_intermediate_size"):
            writer.add_expert_shared_feed_forward_length(config["shared_expert_intermediate_size"])
    expected = add_vocab(writer)

    def put(gguf_name, tensor):
        data = tensor.to(torch.float32).numpy()
        keep_f32 = data.ndim <= 1 or ".ffn_gate_inp." in gguf_name or ".ffn_gate_inp_shexp." in gguf_name
        writer.add_tensor(gguf_name, data.astype(np.float32 if keep_f32 else dtype))

    def mapped(hf_name):
        found = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if found is None:
            l, part = hf_name.split(".")[2], hf_name.split(".")[-2]
            plain = {"gate_proj": gguf.MODEL_TENSOR.FFN_GATE, "up_proj": gguf.MODEL_TENSOR.FFN_UP, "down_proj": gguf.MODEL_TENSOR.FFN_DOWN}[part]
            assert ".mlp." in hf_name and ".experts." not in hf_name, hf_name
            found = gguf.TENSOR_NAMES[plain].format(bid=l) + ".weight"
        return found

    stacks = {}
    for hf_name, tensor in state.items():
        if ".mlp.experts." in hf_name:  # Qwen: one tensor per expert, stacked per layer below
            l, e, part = hf_name.split(".")[2], int(hf_name.split(".")[5]), hf_name.split(".")[6]
            stacks.setdefault((int(l), part), {})[e] = tensor
            continue
        if arch == "granitemoe" and hf_name.endswith("block_sparse_moe.input_linear.weight"):
            l = int(hf_name.split(".")[2])
            gate, up = tensor.split(config["intermediate_size"], dim=-2)
            put(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.FFN_GATE_EXP].format(bid=l) + ".weight", gate)
            put(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.FFN_UP_EXP].format(bid=l) + ".weight", up)
            continue
        if arch == "granitemoe" and hf_name.endswith(("q_proj.weight", "k_proj.weight")):
            tensor = permute(tensor, n_head, n_head if hf_name.endswith("q_proj.weight") else n_kv)
        put(mapped(hf_name), tensor)
    for (l, part), experts in sorted(stacks.items()):
        stacked = torch.stack([experts[e] for e in sorted(experts)])
        put(names.get_name(f"model.layers.{l}.mlp.experts.{part}", try_suffixes=(".weight",)) + ".weight", stacked)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def write_deepseek(name, hf_dir, dtype, add_vocab, split_kv_b=True):
    """DeepSeek-V2 / V3 the way llama.cpp's DeepseekV2Model converts them (`deepseek2`, one
    architecture for both): TextModel's keys with head_count_kv forced to 1 (MLA as MQA over the
    latent), key_length = kv_lora_rank + qk_rope_head_dim and value_length = kv_lora_rank (the
    latent "head"), key_length_mla = qk_nope + qk_rope and value_length_mla = v_head_dim (the real
    heads), attention.q_lora_rank (only when set) and kv_lora_rank, rope.dimension_count =
    qk_rope_head_dim, leading_dense_block_count = first_k_dense_replace, feed_forward_length (dense
    width), expert_feed_forward_length, expert_count, expert_shared_count, expert_weights_scale =
    routed_scaling_factor, expert_weights_norm only when norm_topk_prob is true,
    expert_group_count / expert_group_used_count from n_group / topk_group when set,
    expert_gating_func from scoring_func, YaRN as rope.scaling.{type, factor,
    original_context_length} with yarn_log_multiplier = 0.1·mscale_all_dim. No q/k permutation:
    llama.cpp ropes deepseek2 on adjacent pairs, as DeepSeek does. kv_b_proj [H·(nope+v), r] is
    split per head into attn_k_b = its key rows transposed, [H, r, nope], and attn_v_b = its value
    rows, [H, v, r] (the converter's "MLA with the absorption optimization"); experts stacked;
    e_score_correction_bias renamed to e_score_correction.bias → exp_probs_b.bias. 1-D tensors and
    ffn_gate_inp stay F32.

    transformers 4.57 does not save scoring_func in a DeepSeek config.json (the released models'
    files have it: "softmax" for V2, "sigmoid" for V3), so the gating function is written from the
    model type, as the converter would for the released files.

    split_kv_b=False writes a file as converters before the MLA split did: the real head sizes as
    key_length / value_length, head_count_kv = the head count, no _mla keys, and kv_b_proj whole
    as attn_kv_b."""
    config = json.load(open(os.path.join(here, hf_dir, "config.json")))
    state = load_file(os.path.join(here, hf_dir, "model.safetensors"))
    n_layers = config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.DEEPSEEK2, n_layers)
    writer = gguf.GGUFWriter(os.path.join(out_dir, name), "deepseek2")
    writer.add_name(name)
    writer.add_block_count(n_layers)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(1 if split_kv_b else config["num_key_value_heads"])
    writer.add_rope_freq_base(config["rope_theta"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_expert_count(config["n_routed_experts"])
    writer.add_expert_used_count(config["num_experts_per_tok"])
    if config.get("n_group") is not None:
        writer.add_expert_group_count(config["n_group"])
    if config.get("topk_group") is not None:
        writer.add_expert_group_used_count(config["topk_group"])
    v3 = config["model_type"] == "deepseek_v3"
    writer.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID if v3 else gguf.ExpertGatingFuncType.SOFTMAX)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == np.float32 else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_leading_dense_block_count(config["first_k_dense_replace"])
    writer.add_vocab_size(config["vocab_size"])
    if config.get("q_lora_rank") is not None:
        writer.add_q_lora_rank(config["q_lora_rank"])
    rank, rope, nope, v = config["kv_lora_rank"], config["qk_rope_head_dim"], config["qk_nope_head_dim"], config["v_head_dim"]
    writer.add_kv_lora_rank(rank)
    if split_kv_b:
        writer.add_key_length(rank + rope)
        writer.add_value_length(rank)
        writer.add_key_length_mla(nope + rope)
        writer.add_value_length_mla(v)
    else:
        writer.add_key_length(nope + rope)
        writer.add_value_length(v)
    writer.add_expert_feed_forward_length(config["moe_intermediate_size"])
    writer.add_expert_shared_count(config["n_shared_experts"])
    writer.add_expert_weights_scale(config["routed_scaling_factor"])
    if config.get("norm_topk_prob"):
        writer.add_expert_weights_norm(True)
    writer.add_rope_dimension_count(rope)
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(scaling["factor"])
        writer.add_rope_scaling_orig_ctx_len(scaling["original_max_position_embeddings"])
        writer.add_rope_scaling_yarn_log_mul(0.1 * scaling["mscale_all_dim"])
    expected = add_vocab(writer)

    def put(gguf_name, tensor):
        data = tensor.to(torch.float32).numpy()
        keep_f32 = data.ndim <= 1 or ".ffn_gate_inp." in gguf_name
        writer.add_tensor(gguf_name, data.astype(np.float32 if keep_f32 else dtype))

    def mapped(hf_name):
        return names.get_name(hf_name, try_suffixes=(".weight", ".bias"))

    heads = config["num_attention_heads"]
    stacks = {}
    for hf_name, tensor in state.items():
        hf_name = hf_name.replace("e_score_correction_bias", "e_score_correction.bias")
        if ".mlp.experts." in hf_name:
            l, e, part = int(hf_name.split(".")[2]), int(hf_name.split(".")[5]), hf_name.split(".")[6]
            stacks.setdefault((l, part), {})[e] = tensor
            continue
        if hf_name.endswith("kv_b_proj.weight") and split_kv_b:
            k_b, v_b = torch.split(tensor.view(heads, nope + v, tensor.shape[-1]), [nope, v], dim=1)
            put(mapped(hf_name.replace("kv_b_proj", "k_b_proj")), k_b.transpose(1, 2))
            put(mapped(hf_name.replace("kv_b_proj", "v_b_proj")), v_b)
            continue
        put(mapped(hf_name), tensor)
    for (l, part), experts in sorted(stacks.items()):
        stacked = torch.stack([experts[e] for e in sorted(experts)])
        put(mapped(f"model.layers.{l}.mlp.experts.{part}.weight"), stacked)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def write_vocab_only(name, add_vocab):
    writer = gguf.GGUFWriter(os.path.join(out_dir, name), "llama")
    writer.add_name(name)
    expected = add_vocab(writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


# make_gguf_trained_fixtures.py imports the writers above.
def main():
    expected = {}
    tiny_sp = tiny_sentencepiece()
    tiny_bl = tiny_byte_level()
    for suffix, dtype in [("f32", np.float32), ("f16", np.float16)]:
        expected[f"mixtral-{suffix}.gguf"] = write_model(f"mixtral-{suffix}.gguf", "hf-mixtral", "llama", dtype,
                                                         lambda w: add_llama_vocab(w, tiny_sp, vocab_size=64))
        expected[f"olmoe-{suffix}.gguf"] = write_model(f"olmoe-{suffix}.gguf", "hf-olmoe", "olmoe", dtype,
                                                       lambda w: add_gpt2_vocab(w, tiny_bl, "olmo", TINY_SAMPLES))
    # The HF family fixtures have no tokenizer of their own: each GGUF carries the tiny byte-level
    # vocabulary (pre "gpt-2") so that it runs on its own; Qwen's and Granite's real pre-tokenizers
    # ("qwen2", "refact") are not what these files test.
    for family, hf_dir in [("qwen2moe", "hf-qwen2-moe"), ("qwen3moe", "hf-qwen3-moe"), ("granitemoe", "hf-granitemoe")]:
        for suffix, dtype in [("f32", np.float32), ("f16", np.float16)]:
            expected[f"{family}-{suffix}.gguf"] = write_family(f"{family}-{suffix}.gguf", hf_dir, family, dtype,
                                                               lambda w: add_gpt2_vocab(w, tiny_bl, "gpt-2", TINY_SAMPLES))
    for family, hf_dir in [("deepseek-v2", "hf-deepseek-v2"), ("deepseek-v2-greedy", "hf-deepseek-v2-greedy"), ("deepseek-v3", "hf-deepseek-v3")]:
        for suffix, dtype in [("f32", np.float32), ("f16", np.float16)]:
            expected[f"{family}-{suffix}.gguf"] = write_deepseek(f"{family}-{suffix}.gguf", hf_dir, dtype,
                                                                 lambda w: add_gpt2_vocab(w, tiny_bl, "gpt-2", TINY_SAMPLES))
    expected["deepseek-v3-kvb-f32.gguf"] = write_deepseek("deepseek-v3-kvb-f32.gguf", "hf-deepseek-v3", np.float32,
                                                          lambda w: add_gpt2_vocab(w, tiny_bl, "gpt-2", TINY_SAMPLES), split_kv_b=False)
    with open(os.path.join(here, "sentencepiece-bpe", "tokenizer.model"), "rb") as f:
        big_sp = f.read()
    expected["tokenizer-llama.gguf"] = write_vocab_only("tokenizer-llama.gguf", lambda w: add_llama_vocab(w, big_sp, add_bos=True))
    big_bl = Tokenizer.from_file(os.path.join(here, "hf-tokenizer-bytelevel", "tokenizer.json"))
    expected["tokenizer-gpt2.gguf"] = write_vocab_only("tokenizer-gpt2.gguf", lambda w: add_gpt2_vocab(w, big_bl, "gpt-2", SAMPLES + TINY_SAMPLES))
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
    print("GGUF fixtures written to", out_dir)


if __name__ == "__main__":
    main()
