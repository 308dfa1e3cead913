#!/usr/bin/env bash
# Heap allocations per decoded token: `moepp generate` (greedy) run for two lengths under an
# LD_PRELOAD allocation counter (Scripts/malloc_counter.c); the difference over the difference
# in tokens is the steady-state figure (loading and the prompt cancel out).
# Usage: Scripts/count-allocations.sh [moepp binary] [model dir] [short] [long]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/moepp}
model=${2:-Assets/models/moepp-tiny}
short=${3:-50}
long=${4:-150}
lib=$(mktemp -d)/malloc_counter.so
clang -O2 -shared -fPIC -o "$lib" Scripts/malloc_counter.c
count() {
  LD_PRELOAD=$lib "$bin" generate --model "$model" --temperature 0 --max-tokens "$1" "To be, or not to be" 2>&1 >/dev/null \
    | sed -n 's/^malloc_counter: \([0-9]*\) allocations$/\1/p'
}
a=$(count "$short"); b=$(count "$long")
echo "$bin: $a allocations for $short tokens, $b for $long: $(( (b - a) / (long - short) )) per decoded token"
