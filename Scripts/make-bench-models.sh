#!/usr/bin/env bash
# The GGUF files Scripts/bench-llamacpp.sh runs, each written once (a finished file is left alone):
#   MODELS/mixtral-145m/{f32,f16,bf16,q8_0,q4_0,q4_k,q5_k_m}.gguf and MODELS/mixtral-1b/… — from a bf16
#   `moepp synthesize --preset mixtral-145m|mixtral-1b` checkpoint (safetensors + SentencePiece):
#   f32/f16/bf16/q8_0 by llama.cpp's own convert_hf_to_gguf.py, q4_0, q4_k and q5_k_m by `moepp
#   quantize` (its q5_k_m equals llama-quantize's Q5_K_M byte for byte, BENCHMARKS.md "Q5_1 and q5_k_m");
#   MODELS/moepp-7b-{q8_0,q4_k}.gguf — the MoE++ 7B synthetic by `moepp quantize` (llama.cpp
#   cannot run MoE++, so only moepp reads these; bf16 is the synthetic checkpoint itself).
# Usage: Scripts/make-bench-models.sh LLAMA_CPP_SRC MODELS quick|all MOEPP_7B_DIR SKIP_7B(0|1)
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: make-bench-models.sh LLAMA_CPP_SRC MODELS quick|all MOEPP_7B_DIR SKIP_7B}
MODELS=$2 scope=$3 moepp7b=$4 skip7b=$5
bin=$PWD/.build/release/moepp
peer=$(dirname "$(dirname "$(dirname "$src")")")   # PEER/llama_cpp_python-X/vendor/llama.cpp → PEER

# The converter's Python packages, set up the first time a conversion is needed: the system's
# where it has them (a venv that sees them), otherwise the project's fixture pins (torch 2.13.0 is
# the CPU wheel on the package mirror; the converter's own requirements file pins another torch
# from download.pytorch.org, which these machines cannot reach) — inside the ignored folder, never
# the project's dependencies.
venv=$peer/venv
converter_ready=0
converter() {
  if [ $converter_ready = 0 ]; then
    [ -x "$venv/bin/python" ] || python3 -m venv --system-site-packages "$venv"
    if ! "$venv/bin/python" -c "import torch, numpy, sentencepiece, transformers, safetensors" 2>/dev/null; then
      "$venv/bin/python" -m pip install -q torch==2.13.0 numpy sentencepiece transformers==4.57.1 safetensors "protobuf<5"
    fi
    converter_ready=1
  fi
  "$venv/bin/python" "$src/convert_hf_to_gguf.py" "$@"
}

# quantize TYPE IN OUT: `moepp quantize`, renamed into place only when complete.
quantize() {
  [ -f "$3" ] && return
  "$bin" quantize --type "$1" --force "$2" "$3.partial.gguf" >&2
  mv "$3.partial.gguf" "$3"
}

# mixtral PRESET: the bf16 source, then one GGUF per format.
mixtral() {
  local dir=$MODELS/$1
  if [ ! -f "$dir/src/config.json" ]; then
    rm -rf "$dir/src"
    "$bin" synthesize --preset "$1" --format safetensors --dtype BF16 --output "$dir/src" >&2
  fi
  for type in f32 f16 bf16 q8_0; do
    [ -f "$dir/$type.gguf" ] && continue
    echo "converting $1 to $type (llama.cpp convert_hf_to_gguf.py)" >&2
    converter "$dir/src" --outtype "$type" --outfile "$dir/$type.gguf.partial" >&2
    mv "$dir/$type.gguf.partial" "$dir/$type.gguf"
  done
  quantize q4_0 "$dir/src" "$dir/q4_0.gguf"
  quantize q4_k "$dir/src" "$dir/q4_k.gguf"
  quantize q5_k_m "$dir/src" "$dir/q5_k_m.gguf"
}

mkdir -p "$MODELS"
mixtral mixtral-145m
[ "$scope" = quick ] && exit 0
mixtral mixtral-1b
if [ "$skip7b" != 1 ]; then
  [ -f "$moepp7b/pytorch_model.bin.index.json" ] || "$bin" synthesize --preset moepp-7b --format bin --output "$moepp7b" >&2
  for type in q8_0 q4_k; do quantize "$type" "$moepp7b" "$MODELS/moepp-7b-$type.gguf"; done
fi
