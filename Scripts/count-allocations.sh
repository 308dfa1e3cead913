#!/usr/bin/env bash
# Heap allocations per decoded token: `moepp generate` (greedy unless told) run for two lengths
# under an LD_PRELOAD allocation counter (Scripts/malloc_counter.c); the difference over the
# difference in tokens is the steady-state figure (loading and the prompt cancel out).
# Usage: Scripts/count-allocations.sh [--sites] [moepp binary] [model dir] [short] [long] [generate options…]
#        generate options e.g. --temperature 0.8 --top-p 0.9 --seed 1, --adaptive 0.01, --expert-budget 12
#        --sites: also list where the per-token allocations come from (their callers in moepp,
#        named by addr2line; the binary needs its symbols, as SwiftPM's release build has).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C   # sort and join must agree on the order of the site lists
sites=0
if [ "${1:-}" = --sites ]; then sites=1; shift; fi
bin=${1:-.build/release/moepp}
model=${2:-Assets/models/moepp-tiny}
short=${3:-50}
long=${4:-150}
extra=("${@:5}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lib=$work/malloc_counter.so
clang -O2 -shared -fPIC -o "$lib" Scripts/malloc_counter.c
count() {
  local environment=(LD_PRELOAD="$lib")
  [ "$sites" = 1 ] && environment+=(MALLOC_COUNTER_SITES="$work/sites-$1")
  env "${environment[@]}" "$bin" generate --model "$model" --temperature 0 ${extra[@]+"${extra[@]}"} --max-tokens "$1" "To be, or not to be" 2>&1 >/dev/null \
    | sed -n 's/^malloc_counter: \([0-9]*\) allocations$/\1/p'
}
a=$(count "$short"); b=$(count "$long")
per_token() { awk -v a="$1" -v b="$2" -v n=$((long - short)) 'BEGIN { printf "%.1f", (b - a) / n }'; }
echo "$bin ${extra[*]+${extra[*]}}: $a allocations for $short tokens, $b for $long: $(per_token "$a" "$b") per decoded token"
[ "$sites" = 1 ] || exit 0

# Per call chain (the first frames inside moepp): count(long) − count(short), per token.
tally() { sort "$1" | uniq -c | awk '{ print $2, $1 }' | sort; }
join -a 2 -e 0 -o 0,1.2,2.2 <(tally "$work/sites-$short") <(tally "$work/sites-$long") |
  awk -v n=$((long - short)) '{ d = ($3 - $2) / n; if (d >= 0.05) printf "%.2f %s\n", d, $1 }' | sort -rn | head -25 |
  while read -r per chain; do
    # Name the first frame that is not the standard library's (inlined array growth and the like).
    names=$(tr ',' '\n' <<<"$chain" | sed 's/^/0x/' | addr2line -f -e "$bin" | awk 'NR % 2 == 1' | swift demangle --simplified)
    caller=$(grep -v -E '^(specialized )?(_|Swift\.|Array|ContiguousArray|Dictionary|Set|String|static UnsafeMutablePointer|Unsafe)' <<<"$names" | head -1 || true)
    printf "%6s per token  %s\n" "$per" "${caller:-$(head -1 <<<"$names")}" | cut -c1-200
  done
