#!/usr/bin/env bash
# Trains the two shipped models with the committed plans and exports them to Assets/models.
# Resumable: run it again after an interruption and each run continues from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d corpus/train ] || bash Scripts/make-corpus.sh
bin=.build/release/moepp
for name in moepp-tiny moe-tiny; do
  "$bin" train --plan "Assets/plans/$name.json" --run "runs/$name" --tokenizer Assets/tokenizer/tokenizer.json \
    --export "Assets/models/$name"
done
