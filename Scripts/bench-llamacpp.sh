#!/usr/bin/env bash
# moepp beside llama.cpp on the same GGUF bytes (issues 8 and 12). llama.cpp is a benchmark peer
# only: built from the source vendored in the PyPI llama-cpp-python sdist into $PEER (ignored by
# git), never linked into moepp.
#   1. builds llama.cpp once (Scripts/build-llamacpp.sh);
#   2. writes the GGUF files once (Scripts/make-bench-models.sh): synthetic Mixtral-style 147 M
#      and 1.13 B at f32/f16/bf16/Q8_0 by llama.cpp's own converter, Q4_0 and Q4_K by `moepp quantize`;
#      the MoE++ 7B synthetic at Q8_0 and Q4_K by `moepp quantize`;
#   3. runs `moepp bench` and `llama-bench` on each file alternately (A B A B …, ROUNDS rounds,
#      every format of a model in each round), at 1 thread (both pinned to core 0 by taskset)
#      and 2 threads; prompt = 128 tokens, decode = 32 tokens; the 7B MoE++ runs in moepp alone
#      (llama.cpp has no MoE++), 2 threads, its three formats round-robin, with
#      --paired-roofline (the probe reads each decoded token's bytes right after it);
#      bf16 files also run a third time, in moepp with --bf16-activations (row "bf16-act": bf16
#      weights × bf16-rounded activations by vdpbf16ps, llama.cpp's own precision for bf16 on
#      CPUs with AVX-512 BF16), beside the same round's llama.cpp bf16 run;
#   4. prints the tables (Scripts/bench-llamacpp-table.py): medians, min–max, ratios, and each
#      row's fraction of the memory roofline at the best bandwidth sampled between the runs, and
#      the 7B's paired fractions.
# Usage: Scripts/bench-llamacpp.sh      env: ROUNDS (5), QUICK=1 (1 round, 145 M at f32 and Q8_0
#        only), SKIP_7B=1, MIXTRALS ("mixtral-145m mixtral-1b"), FORMATS ("f32 f16 bf16 q8_0 q4_0 q4_k q5_k_m"),
#        PEER (.peer), MODELS ($HOME/.cache/moepp/llamacpp-bench),
#        MOEPP_7B_DIR ($HOME/.cache/moepp/moepp-7b-synthetic), PROMPT (128), DECODE (32),
#        BF16_ACT (1 where the CPU has avx512_bf16: the bf16-act rows), FORMATS_7B ("bf16 [bf16-act] q8_0 q4_k").
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.build/release/moepp
ROUNDS=${ROUNDS:-5}
QUICK=${QUICK:-0}
PEER=${PEER:-.peer}
MODELS=${MODELS:-$HOME/.cache/moepp/llamacpp-bench}
MOEPP_7B_DIR=${MOEPP_7B_DIR:-$HOME/.cache/moepp/moepp-7b-synthetic}
PROMPT=${PROMPT:-128}
DECODE=${DECODE:-32}
if [ "$QUICK" = 1 ]; then ROUNDS=1; SKIP_7B=1; fi
BF16_ACT=${BF16_ACT:-$(grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null && echo 1 || echo 0)}
[ -x "$bin" ] || { echo "bench-llamacpp: $bin missing (make build)" >&2; exit 1; }

src=$(bash Scripts/build-llamacpp.sh "$PEER" | tail -1)
llama_bench=$src/build/bin/llama-bench

bash Scripts/make-bench-models.sh "$src" "$MODELS" "$([ "$QUICK" = 1 ] && echo quick || echo all)" "$MOEPP_7B_DIR" "${SKIP_7B:-0}"
read -r -a models <<<"${MIXTRALS-mixtral-145m mixtral-1b}"
read -r -a formats <<<"${FORMATS-f32 f16 bf16 q8_0 q4_0 q4_k q5_k_m}"
[ "$QUICK" = 1 ] && models=(mixtral-145m) formats=(f32 q8_0)

results=$(mktemp /tmp/bench-llamacpp.XXXXXX.tsv)
echo "results: $results (engine model format threads round prompt_tok_s decode_tok_s MB_per_token bandwidth_GB_s paired_roofline;"
echo "  an interrupted run's table: MODELS=$MODELS python3 Scripts/bench-llamacpp-table.py $results)"
echo "load at the start: $(uptime)"

# moepp ROW FILE THREADS ROUND [FLAGS…]: one `moepp bench` repeat; its bandwidth probe (2-thread runs
# only) is one more sample between the engines' runs.
run_moepp() {
  local row=$1 file=$2 threads=$3 round=$4 pin=() line bw paired
  local flags=("${@:5}")
  [ "$threads" = 1 ] && pin=(taskset -c 0)
  # A failed run is a row of nan (and its error on stderr), not the end of an hour's benchmark.
  out=$("${pin[@]}" "$bin" bench --model "$file" --repeats 1 --prompt-tokens "$PROMPT" --decode-tokens "$DECODE" ${flags[@]+"${flags[@]}"}) || {
    echo "moepp bench failed on $file" >&2
    printf "moepp\t%s\t%s\t%s\tnan\tnan\tnan\tnan\tnan\n" "$row" "$threads" "$round" >>"$results"; return; }
  line=$(grep -F " | " <<<"$out" | tail -1)
  bw=$(sed -n 's/^memory bandwidth.*: \([0-9.]*\) GB\/s.*/\1/p' <<<"$out")
  [ "$threads" = 1 ] && bw=nan   # one core's probe is not the machine's bandwidth
  paired=$(sed -n 's/^paired roofline: \([0-9.]*\) .*/\1/p' <<<"$out")
  awk -F' [|] ' -v row="$row" -v t="$threads" -v r="$round" -v bw="$bw" -v paired="${paired:-nan}" \
    '{ printf "moepp\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row, t, r, $3, $4, $7 "\t" bw, paired }' <<<"$line" >>"$results"
}

# llama-bench at prompt PROMPT and decode DECODE, one repetition (after its own warm-up run); with
# ALSO_ROW, the same run is written for that row too (bf16-act is compared with llama.cpp's bf16).
run_llama() {
  local row=$1 file=$2 threads=$3 round=$4 also=${5:-} pin=() json pp tg
  [ "$threads" = 1 ] && pin=(taskset -c 0)
  json=$("${pin[@]}" "$llama_bench" -m "$file" -t "$threads" -p "$PROMPT" -n "$DECODE" -r 1 -o jsonl 2>/tmp/llama-bench.err) ||
    { echo "llama-bench failed on $file: $(tail -1 /tmp/llama-bench.err)" >&2; json=""; }
  pp=$(grep "\"n_prompt\": $PROMPT, \"n_gen\": 0" <<<"$json" | sed 's/.*"avg_ts": \([0-9.e+-]*\).*/\1/' || true)
  tg=$(grep "\"n_prompt\": 0, \"n_gen\": $DECODE" <<<"$json" | sed 's/.*"avg_ts": \([0-9.e+-]*\).*/\1/' || true)
  printf "llama.cpp\t%s\t%s\t%s\t%s\t%s\tnan\tnan\tnan\n" "$row" "$threads" "$round" "${pp:-nan}" "${tg:-nan}" >>"$results"
  [ -z "$also" ] || printf "llama.cpp\t%s\t%s\t%s\t%s\t%s\tnan\tnan\tnan\n" "$also" "$threads" "$round" "${pp:-nan}" "${tg:-nan}" >>"$results"
}

# Every format of a model in each round, so that the formats' ratios share the machine's drift.
for model in "${models[@]}"; do
  for threads in 1 2; do
    for round in $(seq "$ROUNDS"); do
      for type in "${formats[@]}"; do
        echo "== $model $type, $threads thread(s), round $round/$ROUNDS ($(uptime | sed 's/.*load/load/'))" >&2
        run_moepp "$model	$type" "$MODELS/$model/$type.gguf" "$threads" "$round"
        if [ "$type" = bf16 ] && [ "$BF16_ACT" = 1 ]; then
          run_moepp "$model	bf16-act" "$MODELS/$model/$type.gguf" "$threads" "$round" --bf16-activations
          run_llama "$model	$type" "$MODELS/$model/$type.gguf" "$threads" "$round" "$model	bf16-act"
        else
          run_llama "$model	$type" "$MODELS/$model/$type.gguf" "$threads" "$round"
        fi
      done
    done
  done
done

if [ "${SKIP_7B:-0}" != 1 ]; then
  for round in $(seq "$ROUNDS"); do
    for type in ${FORMATS_7B:-bf16 $([ "$BF16_ACT" = 1 ] && echo bf16-act) q8_0 q4_k}; do
      # The 7B is 15× the L3: its rows also carry the roofline measured between tokens.
      f=$MODELS/moepp-7b-$type.gguf flags=(--paired-roofline)
      case $type in bf16) f=$MOEPP_7B_DIR ;; bf16-act) f=$MOEPP_7B_DIR flags+=(--bf16-activations) ;; esac
      echo "== moepp-7b $type, 2 threads, round $round/$ROUNDS ($(uptime | sed 's/.*load/load/'))" >&2
      run_moepp "moepp-7b	$type" "$f" 2 "$round" ${flags[@]+"${flags[@]}"}
    done
  done
fi

echo "load at the end: $(uptime)"
MODELS=$MODELS python3 Scripts/bench-llamacpp-table.py "$results"
