#!/usr/bin/env bash
# Real-shape synthetic checkpoints of the families people open (issue 9): Granite-3.0-3B-A800M
# (6.7 GB bf16) and OLMoE-1B-7B (13.8 GB bf16), seeded random weights in the releases' shapes,
# written once outside the repository, then loaded and decoded by `moepp bench`: prompt and
# decode tok/s (medians of the repeats) and the fraction of the memory roofline (bytes of
# weights read per token ÷ the measured bandwidth; bench prints "invalid" rather than a
# fraction above 1). The machine is shared: the load average is printed beside the figures.
# Usage: Scripts/bench-families.sh [directory]   (default $MOEPP_FAMILIES_DIR or ~/.cache/moepp)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/moepp
root=${1:-${MOEPP_FAMILIES_DIR:-$HOME/.cache/moepp}}
for preset in granite-3b-a800m olmoe-1b-7b; do
  dir="$root/$preset-synthetic"
  if [ ! -f "$dir/model.safetensors.index.json" ]; then
    rm -rf "$dir"
    echo "== writing the synthetic $preset into $dir"
    /usr/bin/time -f "synthesize: %e s wall, peak RSS %M KB" "$bin" synthesize --preset "$preset" --output "$dir"
  fi
  du -sh "$dir"
  echo "== $preset: load $(uptime | sed 's/.*load average/load average/')"
  "$bin" bench --model "$dir" --prompt-tokens "${PROMPT_TOKENS:-64}" --decode-tokens "${DECODE_TOKENS:-32}" --repeats "${REPEATS:-3}"
  echo "== $preset done: load $(uptime | sed 's/.*load average/load average/')"
done
