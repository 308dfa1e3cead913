#!/usr/bin/env bash
# UI overhead: decode tokens/s of the same greedy reply in the TUI (driven through tmux, read off
# its throughput pane) and from `moepp generate`, alternating, median of N runs each.
# Usage: Scripts/measure-ui-overhead.sh [model dir] [tokens] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-Assets/models/moepp-tiny}
tokens=${2:-200}
runs=${3:-5}
prompt="To be, or not to be"
bin=.build/release/moepp
session=moepp-overhead-$$
tui=() cli=()
for run in $(seq "$runs"); do
  out=$("$bin" generate --model "$model" --temperature 0 --max-tokens "$tokens" "$prompt" 2>&1 >/dev/null)
  cli+=("$(sed -E 's/.* generated at ([0-9.]+) tok\/s.*/\1/' <<<"$out")")
  tmux kill-session -t "$session" 2>/dev/null || true
  tmux new-session -d -s "$session" -x 140 -y 45 "$bin chat --model $model --temperature 0"
  sleep 1
  tmux send-keys -t "$session" -l "/max $tokens"; tmux send-keys -t "$session" Enter
  tmux send-keys -t "$session" -l "$prompt"; tmux send-keys -t "$session" Enter
  for _ in $(seq 600); do
    screen=$(tmux capture-pane -p -t "$session")
    if grep -q "(last reply)" <<<"$screen" && grep -q "$tokens generated" <<<"$screen"; then break; fi
    sleep 0.2
  done
  tui+=("$(grep -o 'decode [0-9.]* tok/s (last reply)' <<<"$screen" | awk '{print $2}')")
  tmux send-keys -t "$session" C-d
  sleep 0.5
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_cli=$(median "${cli[@]}"); m_tui=$(median "${tui[@]}")
echo "model $model, $tokens greedy tokens, $runs runs each"
echo "moepp generate decode tok/s: ${cli[*]} (median $m_cli)"
echo "moepp chat (TUI) decode tok/s: ${tui[*]} (median $m_tui)"
awk -v a="$m_tui" -v b="$m_cli" 'BEGIN { printf "TUI / CLI = %.3f (%.1f%% apart)\n", a / b, (1 - a / b) * 100 }'
