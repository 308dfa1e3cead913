// Stand-alone harness (not part of moepp): the batched Q8_0 VNNI kernel, pairs of blocks per zmm
// (moe_matmul_q8_0_vnni) against the 256-bit body (moe_matmul_q8_0_vnni_256) on one core, checked
// bit for bit, then GMAC/s in interleaved rounds. BENCHMARKS.md "Batched Q8_0: two blocks per zmm".
// Build: cd Sources/CQuantKernels && clang -O3 -mavx2 -mfma -mf16c -Iinclude -o /tmp/q8mm \
//          ../../Scripts/q8-matmul-harness.c quant_matmul_vnni.c quant_kernels.c quant_kernels_vnni.c \
//          quant_kernels_scalar.c quant_kernels_k_vnni.c
// Run:   /tmp/q8mm ROWS COLS TOKENS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "quant_kernels.h"
#include "quant_matmul.h"
void moe_matmul_q8_0_vnni_256(MOE_MATMUL_ARGS(moe_block_q8));
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: q8mm ROWS COLS TOKENS\n"); return 1; }
    int rows = atoi(argv[1]), cols = atoi(argv[2]), tokens = atoi(argv[3]);
    if (rows < 1 || cols < 32 || cols % 32 || tokens < 1) { fprintf(stderr, "ROWS ≥ 1, COLS a multiple of 32, TOKENS ≥ 1\n"); return 1; }
    int blocks = cols / 32; size_t rb = (size_t)blocks * 34;
    uint8_t *w = malloc(rows * rb);
    for (size_t i = 0; i < rows * rb; i++) w[i] = (uint8_t)rand();
    for (int r = 0; r < rows; r++) for (int b = 0; b < blocks; b++) { uint16_t h = 0x2000 + rand() % 0x800; memcpy(w + r * rb + b * 34, &h, 2); }
    float *xf = malloc(sizeof(float) * cols * tokens);
    for (int i = 0; i < cols * tokens; i++) xf[i] = (float)(rand() % 65536) / 65536.0f - 0.5f;
    moe_block_q8 *xq = malloc(sizeof(moe_block_q8) * blocks * tokens);
    for (int t = 0; t < tokens; t++) moe_quantize_q8(xf + t * cols, cols, xq + t * blocks);
    float *y1 = malloc(4 * rows * tokens), *y2 = malloc(4 * rows * tokens);
    moe_matmul_q8_0_vnni_256(w, rb, xq, cols, tokens, y1, rows, 0, rows);
    moe_matmul_q8_0_vnni(w, rb, xq, cols, tokens, y2, rows, 0, rows);
    printf("bit-identical: %d\n", memcmp(y1, y2, 4 * rows * tokens) == 0);
    for (int round = 0; round < 5; round++) {
        for (int v = 0; v < 2; v++) {
            double t0 = now(); int reps = 0;
            while (now() - t0 < 0.3) { (v ? moe_matmul_q8_0_vnni : moe_matmul_q8_0_vnni_256)(w, rb, xq, cols, tokens, y1, rows, 0, rows); reps++; }
            double dt = (now() - t0) / reps;
            printf("%s %.1f GMAC/s  ", v ? "pairs" : "256", (double)rows * cols * tokens / dt / 1e9);
        }
        printf("\n");
    }
}
