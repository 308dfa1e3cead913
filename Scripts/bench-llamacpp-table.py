#!/usr/bin/env python3
"""Tables for BENCHMARKS.md from Scripts/bench-llamacpp.sh's results (one line per engine run:
engine, model, format, threads, round, prompt tok/s, decode tok/s, MB/token, bandwidth GB/s, and
from moepp runs with --paired-roofline the paired fraction; results without that field still read).

Medians with min–max over rounds; a ratio is the median of the per-round ratios moepp ÷ llama.cpp
(each round ran the two engines back to back, so machine load cancels as far as it can).
Fraction of the memory roofline = decode tok/s × bytes of weights touched per token ÷ the best
bandwidth sampled between the runs; a fraction above 1 is refused (byte count or probe wrong).
The best sample is a conservative roofline on a host whose bandwidth swings from one process to
the next (a Zen 4 VM read 32–59 GB/s within minutes), so each 2-thread moepp run is also set
against its own probe, taken in the same process just before: "of own probe", the median (min–max)
of those per-run fractions.
The 7B rows also carry the paired roofline (`moepp bench --paired-roofline`): the probe reads each
decoded token's bytes right after the token, and the fraction is decode bytes per second ÷ the
probe's over the same tokens, so the host's swings fall on both sides of it.
A file no larger than the last-level cache (MODELS set: the GGUF files are sized) has no memory
roofline — its weights stay in cache between tokens — and says so instead of a fraction.
Both engines read the same file, so moepp's count of bytes touched per token stands for both.
A benchmark helper only, never a dependency of moepp."""
import math
import os
import statistics
import sys
from collections import defaultdict


def number(text):
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value


def spread(values):
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def ratio(moepp, llama):
    """moepp and llama map round → tok/s; rounds where either failed are left out."""
    rounds = [moepp[r] / llama[r] for r in moepp.keys() & llama.keys()
              if not math.isnan(moepp[r]) and not math.isnan(llama[r]) and llama[r] > 0]
    if not rounds:
        return "—"
    return f"{statistics.median(rounds):.2f}× ({min(rounds):.2f}–{max(rounds):.2f})"


def last_level_cache_bytes():
    """The L3 size from sysfs (e.g. "260M", "36864K"); 0 where unknown."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            text = f.read().strip()
    except OSError:
        return 0
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def file_and_cache(model, fmt):
    """(size of MODELS/model/fmt.gguf, L3 size) in bytes; 0s where unknown."""
    models, cache = os.environ.get("MODELS"), last_level_cache_bytes()
    path = os.path.join(models or "", model, fmt.replace("-act", "") + ".gguf")
    if not models or not cache or not os.path.exists(path):
        return 0, 0
    return os.path.getsize(path), cache


def cached_file(model, fmt):
    """A note when the file fits in the last-level cache, else None."""
    size, cache = file_and_cache(model, fmt)
    return f"in L3 ({size >> 20} MB ≤ {cache >> 20} MB)" if 0 < size <= cache else None


def fraction(decode, megabytes, bandwidth, model, fmt):
    decode = [v for v in decode if not math.isnan(v)]
    if not decode or math.isnan(megabytes) or bandwidth <= 0:
        return "—"
    value = statistics.median(decode) * megabytes * 1e6 / bandwidth
    if value <= 1:
        return f"{value:.2f}"
    # Above 1 is refused; where the file is within twice the L3 the likely reason is that part of
    # the weights stayed in cache between tokens, which the note says.
    size, cache = file_and_cache(model, fmt)
    why = f"; file {size >> 20} MB vs L3 {cache >> 20} MB: partly cached" if 0 < size <= 2 * cache else ""
    return f"invalid ({value:.2f} > 1{why})"


def own_probe(moepp):
    """Median (min–max) of each run's decode bytes per second ÷ its own probe's bandwidth."""
    values = [r[2] * r[3] * 1e6 / (r[4] * 1e9) for r in moepp
              if not any(math.isnan(v) for v in r[2:5]) and r[4] > 0]
    if not values:
        return "—"
    if max(values) > 1:
        return f"invalid ({max(values):.2f} > 1)"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main(path):
    runs = defaultdict(lambda: defaultdict(list))   # (model, format, threads) → engine → rows by round
    bandwidths = []
    with open(path) as results:
        for line in results:
            fields = line.rstrip("\n").split("\t")
            engine, model, fmt, threads, round_, prompt, decode, megabytes, bandwidth = fields[:9]
            paired = number(fields[9]) if len(fields) > 9 else math.nan
            runs[(model, fmt, int(threads))][engine].append((int(round_), number(prompt), number(decode), number(megabytes), number(bandwidth), paired))
            if not math.isnan(number(bandwidth)):
                bandwidths.append(number(bandwidth) * 1e9)
    if not bandwidths:
        sys.exit("bench-llamacpp-table: no bandwidth sample in " + path)
    best = max(bandwidths)
    print(f"memory bandwidth: {len(bandwidths)} samples between the runs (each the best of 3 passes of every vector read kernel moepp has over 1 GiB, 2 threads): "
          f"median {statistics.median(bandwidths) / 1e9:.1f}, min {min(bandwidths) / 1e9:.1f}, best {best / 1e9:.1f} GB/s; roofline at the best")
    print()
    print("| model | format | threads | MB/token | moepp prompt tok/s | llama.cpp prompt tok/s | prompt ratio "
          "| moepp decode tok/s | llama.cpp decode tok/s | decode ratio | moepp of roofline | llama.cpp of roofline | moepp of own probe |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    bf16_decode = {}
    for (model, fmt, threads), engines in runs.items():
        moepp, llama = engines.get("moepp", []), engines.get("llama.cpp", [])
        counted = [r[3] for r in moepp if not math.isnan(r[3])]
        megabytes = statistics.median(counted) if counted else math.nan
        moepp_prompt, moepp_decode = {r[0]: r[1] for r in moepp}, {r[0]: r[2] for r in moepp}
        llama_prompt, llama_decode = {r[0]: r[1] for r in llama}, {r[0]: r[2] for r in llama}
        if fmt == "bf16" and threads == 2 and moepp_decode:
            bf16_decode[model] = moepp_decode
        cached = cached_file(model, fmt)
        print(f"| {model} | {fmt} | {threads} | {megabytes:.1f} | {spread(moepp_prompt.values())} | {spread(llama_prompt.values())} | "
              f"{ratio(moepp_prompt, llama_prompt)} | {spread(moepp_decode.values())} | {spread(llama_decode.values())} | "
              f"{ratio(moepp_decode, llama_decode)} | {cached or fraction(moepp_decode.values(), megabytes, best, model, fmt)} | "
              f"{cached or fraction(llama_decode.values(), megabytes, best, model, fmt)} | {'—' if cached else own_probe(moepp)} |")
    paired_rows = [(key, [r[5] for r in engines.get("moepp", []) if not math.isnan(r[5])]) for key, engines in runs.items()]
    paired_rows = [(key, values) for key, values in paired_rows if values]
    if paired_rows:
        print()
        print("moepp decode of the paired roofline (the probe reading each token's bytes right after it), per run, median (min–max):")
        for (model, fmt, threads), values in paired_rows:
            text = f"invalid ({max(values):.2f} > 1)" if max(values) > 1 else f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"
            print(f"  {model} {fmt}, {threads} thread(s): {text} over {len(values)} run(s)")
    print()
    print("moepp with --bf16-activations ÷ moepp exact on the same bf16 file (per-round ratios, prompt | decode):")
    for (model, fmt, threads), engines in sorted(runs.items()):
        exact = runs.get((model, "bf16", threads), {}).get("moepp", [])
        if fmt == "bf16-act" and exact:
            act = engines.get("moepp", [])
            print(f"  {model}, {threads} thread(s): {ratio({r[0]: r[1] for r in act}, {r[0]: r[1] for r in exact})} | "
                  f"{ratio({r[0]: r[2] for r in act}, {r[0]: r[2] for r in exact})}")
    print()
    print("moepp decode at 2 threads, quantised ÷ bf16 (per-round ratios; a model's formats alternate within each round):")
    for (model, fmt, threads), engines in runs.items():
        if threads == 2 and fmt in ("q8_0", "q4_0", "q4_k", "q5_k_m") and model in bf16_decode:
            print(f"  {model} {fmt}: {ratio({r[0]: r[2] for r in engines['moepp']}, bf16_decode[model])}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench-llamacpp-table.py RESULTS.tsv")
    main(sys.argv[1])
