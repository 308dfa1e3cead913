#!/usr/bin/env bash
# Builds llama.cpp — a benchmark peer only, never linked into moepp — from the source vendored in
# the PyPI llama-cpp-python sdist, into an ignored folder. Once: a finished build is left alone.
# Usage: Scripts/build-llamacpp.sh PEER_DIR   (prints the llama.cpp source folder on stdout's last line)
set -euo pipefail
peer="${1:?usage: build-llamacpp.sh PEER_DIR}"
mkdir -p "$peer"
peer="$(cd "$peer" && pwd)"

sdist=$(ls "$peer"/llama_cpp_python-*.tar.gz 2>/dev/null | head -1 || true)
if [ -z "$sdist" ]; then
  echo "downloading the llama-cpp-python sdist into $peer" >&2
  python3 -m pip download -q --no-deps --no-binary llama-cpp-python llama-cpp-python -d "$peer" >&2
  sdist=$(ls "$peer"/llama_cpp_python-*.tar.gz | head -1)
fi
src="${sdist%.tar.gz}/vendor/llama.cpp"
[ -d "$src" ] || tar xzf "$sdist" -C "$peer"
[ -f "$src/CMakeLists.txt" ] || { echo "build-llamacpp: $sdist has no vendor/llama.cpp" >&2; exit 1; }

if ! command -v cmake >/dev/null; then
  echo "installing cmake (Debian)" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends cmake >&2
fi

build="$src/build"
if [ ! -x "$build/bin/llama-bench" ] || [ ! -x "$build/bin/llama-quantize" ]; then
  echo "building llama.cpp (Release, native CPU, -j2) in $build — takes a while on 2 cores" >&2
  # Static, CPU-only, no network: only the two tools the benchmark runs.
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >&2
  cmake --build "$build" --config Release -j2 --target llama-bench llama-quantize >&2
fi
echo "$src"
