#!/usr/bin/env bash
# The MoE++ 7B at full scale (issue 13 §4): a synthetic checkpoint with the official release's
# exact shapes, dtypes and layout (24 one-layer .bin shards + one for embedding/norm/lm_head, an
# index, a 65 536-piece SentencePiece tokenizer.model), written once outside the repository, then
#   1. time to first token after launch and peak/anonymous resident memory (`generate`),
#   2. prompt and decode tok/s against the memory roofline (`bench`, medians),
#   3. the playground on it: latency of a key typed while it decodes (tmux),
#   4. an --expert-budget run on the .bin shards,
#   5. `moepp calibrate` on it (wall time, peak memory).
# Usage: Scripts/bench-7b.sh [directory]   (default $MOEPP_7B_DIR or ~/.cache/moepp/moepp-7b-synthetic;
#        MOEPP_7B_SKIP_CALIBRATE=1 stops after step 4)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/moepp
dir=${1:-${MOEPP_7B_DIR:-$HOME/.cache/moepp/moepp-7b-synthetic}}
prompt="The mixture of experts routes every token to the experts its router prefers, and"

if [ ! -f "$dir/pytorch_model.bin.index.json" ]; then
  rm -rf "$dir"
  echo "== writing the synthetic 7B into $dir (about 15.4 GB)"
  /usr/bin/time -f "synthesize: %e s wall, peak RSS %M KB" "$bin" synthesize --preset moepp-7b --format bin --output "$dir"
fi
du -sh "$dir"

echo "== 1. time to first token after launch (cold process, warm page cache after the first run)"
for run in 1 2 3; do
  /usr/bin/time -f "run $run: %e s wall to first token and exit, peak RSS %M KB" \
    "$bin" generate --model "$dir" --temperature 0 --max-tokens 1 --memory-report "$prompt" >/dev/null
done

echo "== 2. prompt and decode throughput (medians of 3) against the memory roofline"
# --refresh-page-cache: shards cached by an earlier reader or an older synthesize (which left its
# 4 KiB folios cached) are re-read once through moepp's huge-page-advised mapping, in 2 MiB pages.
# --paired-roofline: the roofline also measured token by token, beside the probe's best pass.
"$bin" bench --model "$dir" --prompt-tokens 128 --decode-tokens 32 --repeats 3 --refresh-page-cache --paired-roofline

echo "== 3. the playground: a key typed while it decodes (tmux, 140x45)"
session=moepp-7b-$$
tmux kill-session -t "$session" 2>/dev/null || true
tmux new-session -d -s "$session" -x 140 -y 45 "$bin chat --model $dir --temperature 0"
for _ in $(seq 600); do tmux capture-pane -p -t "$session" | grep -q "Resid" && break; sleep 0.1; done
tmux send-keys -t "$session" -l "/max 200"; tmux send-keys -t "$session" Enter
tmux send-keys -t "$session" -l "$prompt"; tmux send-keys -t "$session" Enter
# Wait until tokens stream (the prompt box says "generating"), then type while it decodes.
for _ in $(seq 600); do tmux capture-pane -p -t "$session" | grep -q "decode [0-9.]* tok/s (live)" && break; sleep 0.1; done
latencies=()
for key in q w e r t; do
  start=$(date +%s.%N)
  tmux send-keys -t "$session" -l "zz$key"
  for _ in $(seq 500); do
    tmux capture-pane -p -t "$session" | grep -q "zz$key" && break
    sleep 0.01
  done
  latencies+=("$(echo "$(date +%s.%N) - $start" | bc)")
  sleep 0.5
done
still=$(tmux capture-pane -p -t "$session" | grep -c "generating" || true)
echo "key echo latency while decoding (s): ${latencies[*]} (still generating afterwards: $([ "$still" -gt 0 ] && echo yes || echo no))"
tmux send-keys -t "$session" C-c; sleep 1
tmux capture-pane -p -t "$session" | grep -E "tok/s" | head -3 || true
tmux kill-session -t "$session" 2>/dev/null || true

echo "== 4. --expert-budget on the .bin shards (a quarter of the experts' bytes)"
for budget in 3.5GB 7GB; do
  "$bin" generate --model "$dir" --temperature 0 --max-tokens 24 --expert-budget "$budget" --memory-report "$prompt" >/dev/null
done

if [ -n "${MOEPP_7B_SKIP_CALIBRATE:-}" ]; then exit 0; fi
echo "== 5. calibrate on mapped weights"
printf '%s\n' "$(for i in $(seq 200); do echo "$prompt number $i is a sentence about routing."; done)" > /tmp/moepp-7b-calibration.txt
mkdir -p /tmp/moepp-7b-calibration && cp /tmp/moepp-7b-calibration.txt /tmp/moepp-7b-calibration/held-out.txt
/usr/bin/time -f "calibrate: %e s wall, peak RSS %M KB" \
  "$bin" calibrate --model "$dir" --corpus /tmp/moepp-7b-calibration --max-tokens 1024 --batch 2 --length 256 || echo "calibrate failed (see above)"
