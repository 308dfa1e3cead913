// Fixtures for the K-quant quantisers: llama.cpp's own reference quantisers
// (quantize_row_q4_K_ref, quantize_row_q5_K_ref, quantize_row_q6_K_ref, linked from the vendored llama.cpp that
// Scripts/build-llamacpp.sh builds) run on awkward inputs, so that QuantizationTests can hold
// moepp's Q4_K, Q5_K and Q6_K quantisers to them byte for byte.
//   make kquant-fixtures PEER=DIR   (or by hand:)
//   L=PEER/llama_cpp_python-0.3.36/vendor/llama.cpp
//   cc -O2 -I$L/ggml/include -I$L/ggml/src make_kquant_fixtures.c $L/build/ggml/src/libggml-base.a -lstdc++ -lm -lpthread -fopenmp -o /tmp/kq
//   /tmp/kq kquant-llamacpp        (writes input.f32, q4_k.blocks, q5_k.blocks, q6_k.blocks)
#include "ggml-quants.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 256, BLOCKS = 24 };

// A small seeded generator (xorshift64*) and Box–Muller normals: only the files matter, not
// which generator made them.
static uint64_t state = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
    return ((state * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}
static float normal(void) { return (float)(sqrt(-2 * log(uniform() + 1e-300)) * cos(6.283185307179586 * uniform())); }

static void write_file(const char *dir, const char *name, const void *data, size_t bytes) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) { perror(path); exit(1); }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]); return 2; }
    static float x[BLOCKS * BLOCK];
    for (int b = 0; b < BLOCKS; b++) {
        float *v = x + b * BLOCK;
        for (int i = 0; i < BLOCK; i++) {
            switch (b) {
            case 0: v[i] = 0; break;                                         // all zero
            case 1: v[i] = 0.75f; break;                                     // constant, positive (min > 0)
            case 2: v[i] = -0.3f; break;                                     // constant, negative
            case 3: v[i] = (float)(0.5 + uniform()); break;                  // all positive
            case 4: v[i] = (float)(-0.5 - uniform()); break;                 // all negative
            case 5: v[i] = normal() * 1e-20f; break;                         // tiny (sub-f16 scales)
            case 6: v[i] = normal() * 1e4f; break;                           // large
            case 7: v[i] = i == 77 ? 50.f : normal() * 0.01f; break;         // one outlier
            case 8: v[i] = (i / 16) % 2 ? normal() : 0; break;               // zero sub-blocks (Q6_K)
            case 9: v[i] = (i / 32) % 2 ? normal() : 0; break;               // zero sub-blocks (Q4_K, Q5_K)
            case 10: v[i] = (float)(i % 7) - 3; break;                       // exact small integers (ties)
            case 11: v[i] = (i / 32 == 3) ? normal() * 100 : normal() * 0.1f; break;  // one loud sub-block
            default: v[i] = normal() * (b % 2 ? 0.02f : 1.f); break;         // weight-like
            }
        }
    }
    static block_q4_K q4[BLOCKS];
    static block_q5_K q5[BLOCKS];
    static block_q6_K q6[BLOCKS];
    quantize_row_q4_K_ref(x, q4, BLOCKS * BLOCK);
    quantize_row_q5_K_ref(x, q5, BLOCKS * BLOCK);
    quantize_row_q6_K_ref(x, q6, BLOCKS * BLOCK);
    write_file(argv[1], "input.f32", x, sizeof x);
    write_file(argv[1], "q4_k.blocks", q4, sizeof q4);
    write_file(argv[1], "q5_k.blocks", q5, sizeof q5);
    write_file(argv[1], "q6_k.blocks", q6, sizeof q6);
    printf("%d blocks: q4_k %zu bytes, q5_k %zu bytes, q6_k %zu bytes\n", BLOCKS, sizeof q4, sizeof q5, sizeof q6);
    return 0;
}
