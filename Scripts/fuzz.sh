#!/usr/bin/env bash
# libFuzzer (+ AddressSanitizer) on every parser moepp reads from a user's files. The MoEKit
# sources and Tests/Fuzz/FuzzMain.swift are compiled into one binary (.build-fuzz/moepp-fuzz);
# each parser then runs for FUZZ_SECONDS from its committed seeds in Tests/Fuzz/<parser>/.
# A crash, a hang (-timeout), a memory blow-up (-rss_limit_mb / -malloc_limit_mb) or a
# multi-line error message stops that parser with its input in .build-fuzz/artifacts/<parser>/.
#   Scripts/fuzz.sh [parser …]       FUZZ_SECONDS=600 by default
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PARSER=${FUZZ_SECONDS:-600}
OUT=.build-fuzz
BINARY=$OUT/moepp-fuzz
PARSERS=("$@")
[ ${#PARSERS[@]} -gt 0 ] || PARSERS=(config safetensors tokenizer-json tokenizer-model calibration torch-bin gguf trace session)
mkdir -p "$OUT"

sources=$(find Sources/MoEKit -name '*.swift' | sort)
if [ ! -x "$BINARY" ] || [ -n "$(find Sources/MoEKit Sources/CQuantKernels Tests/Fuzz/FuzzMain.swift -newer "$BINARY" \( -name '*.swift' -o -name '*.c' -o -name '*.h' \) | head -1)" ]; then
  echo "building $BINARY (swiftc -sanitize=fuzzer,address)…"
  rm -f "$BINARY"
  # The quantised kernels are a C target: compile it as Package.swift does and give swiftc a
  # module map for it (SwiftPM would generate one).
  mkdir -p "$OUT/modules/CQuantKernels"
  objects=()
  for c in Sources/CQuantKernels/*.c; do
    clang -c -O2 -mavx2 -mfma -mf16c -fsanitize=address -I Sources/CQuantKernels/include "$c" -o "$OUT/$(basename "$c" .c).o"
    objects+=("$OUT/$(basename "$c" .c).o")
  done
  printf 'module CQuantKernels {\n  header "%s"\n  export *\n}\n' "$PWD/Sources/CQuantKernels/include/quant_kernels.h" \
    > "$OUT/modules/CQuantKernels/module.modulemap"
  # shellcheck disable=SC2086
  swiftc -sanitize=fuzzer,address -parse-as-library -module-name MoEKit -swift-version 5 -Onone -g -j2 \
    -I Sources/COpenBLAS -I "$OUT/modules/CQuantKernels" $sources Tests/Fuzz/FuzzMain.swift "${objects[@]}" \
    -o "$BINARY" 2>&1 | grep -v "Cannot export local symbol" || true
  [ -x "$BINARY" ] || { echo "fuzz build failed"; exit 1; }
fi

status=0
for parser in "${PARSERS[@]}"; do
  [ -d "Tests/Fuzz/$parser" ] || { echo "no seeds in Tests/Fuzz/$parser"; exit 1; }
  corpus=$OUT/corpus/$parser artifacts=$OUT/artifacts/$parser/
  mkdir -p "$corpus" "$artifacts"
  log=$OUT/$parser.log
  echo "fuzzing $parser for ${SECONDS_PER_PARSER}s (log $log)"
  if MOEPP_FUZZ_TARGET=$parser ASAN_OPTIONS=detect_leaks=0 "$BINARY" "$corpus" "Tests/Fuzz/$parser" \
       -max_total_time="$SECONDS_PER_PARSER" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 \
       -artifact_prefix="$artifacts" -print_final_stats=1 > "$log" 2>&1; then
    result=clean
  else
    result="FOUND (see $log, $artifacts)"
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  echo "  $parser: $runs executions (~$rate/s), corpus $(ls "$corpus" | wc -l) files: $result"
done
exit $status
