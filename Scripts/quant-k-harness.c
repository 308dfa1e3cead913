// Stand-alone harness for the Q4_K/Q6_K kernels (BENCHMARKS.md, "Q4_K/Q6_K VNNI kernels"): checks
// that each VNNI batched kernel equals its VNNI matvec bit for bit and the scalar body within
// 1e-5·max(1, max|y|) on awkward shapes, then times AVX2 vs VNNI in one process (best of 20) on a
// 2048×768 matrix (three super-blocks per row, as the 145 M model's) — kernel compute, L2-resident.
// Build and run from the repository root:
//   clang -O2 -mavx2 -mfma -mf16c -ISources/CQuantKernels/include -ISources/CQuantKernels \
//     Scripts/quant-k-harness.c Sources/CQuantKernels/quant_kernels.c Sources/CQuantKernels/quant_kernels_scalar.c \
//     Sources/CQuantKernels/quant_kernels_vnni.c Sources/CQuantKernels/quant_kernels_k_vnni.c \
//     Sources/CQuantKernels/quant_matmul_vnni.c -lm -o /tmp/quant-k-harness && /tmp/quant-k-harness
// Needs a CPU with AVX-512 VNNI (it calls the _vnni kernels unconditionally).
#include "quant_kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
static uint64_t s = 88172645463325252ull;
static uint64_t rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
static float nrm(void) { double u = (rnd() >> 11) * (1.0 / 9007199254740992.0), v = (rnd() >> 11) * (1.0 / 9007199254740992.0); return (float)(sqrt(-2 * log(u + 1e-300)) * cos(6.283185307 * v)); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void fill(uint8_t *w, size_t bytes, int fmt, int blocks) {
    for (size_t i = 0; i < bytes; i++) w[i] = (uint8_t)rnd();
    int bb = fmt == 4 ? 144 : 210;
    for (int b = 0; b < blocks; b++) {
        uint16_t d = 0x1400 + rnd() % 0x800; // small positive half
        if (fmt == 4) { memcpy(w + (size_t)b * bb, &d, 2); d = 0x1000 + rnd() % 0x800; memcpy(w + (size_t)b * bb + 2, &d, 2); }
        else memcpy(w + (size_t)b * bb + 208, &d, 2);
    }
}
typedef void (*mv)(const void *, size_t, const moe_block_q8k *, int, float *, int, int);
typedef void (*mm)(const void *, size_t, const moe_block_q8k *, int, int, float *, size_t, int, int);
int main(int argc, char **argv) {
    int bad = 0;
    for (int fmt = 4; fmt <= 6; fmt += 2) {
        int bb = fmt == 4 ? 144 : 210;
        mv scal = fmt == 4 ? moe_matvec_q4_k_scalar : moe_matvec_q6_k_scalar;
        mv avx = fmt == 4 ? moe_matvec_q4_k : moe_matvec_q6_k;
        mv vn = fmt == 4 ? moe_matvec_q4_k_vnni : moe_matvec_q6_k_vnni;
        mm mvn = fmt == 4 ? moe_matmul_q4_k_vnni : moe_matmul_q6_k_vnni;
        int shapes[][2] = {{1, 256}, {3, 256}, {7, 768}, {70, 4096}, {13, 512}, {5, 1280}};
        for (int si = 0; si < 6; si++) {
            int rows = shapes[si][0], n = shapes[si][1], blocks = n / 256;
            size_t rb = (size_t)blocks * bb;
            uint8_t *w = malloc(rb * rows); fill(w, rb * rows, fmt, blocks * rows);
            for (int tokens = 1; tokens <= 17; tokens += (tokens < 5 ? 1 : 12)) {
                float *x = malloc(sizeof(float) * n * tokens);
                for (int i = 0; i < n * tokens; i++) x[i] = nrm();
                moe_block_q8k *xq = malloc(sizeof(moe_block_q8k) * blocks * tokens);
                for (int t = 0; t < tokens; t++) moe_quantize_q8k(x + (size_t)t * n, n, xq + (size_t)t * blocks);
                float *y = malloc(4 * rows * tokens), *ys = malloc(4 * rows), *yv = malloc(4 * rows);
                mvn(w, rb, xq, n, tokens, y, rows, 0, rows);
                for (int t = 0; t < tokens; t++) {
                    scal(w, rb, xq + (size_t)t * blocks, n, ys, 0, rows);
                    vn(w, rb, xq + (size_t)t * blocks, n, yv, 0, rows);
                    float ya[4096]; avx(w, rb, xq + (size_t)t * blocks, n, ya, 0, rows);
                    float mx = 1; for (int r = 0; r < rows; r++) mx = fmaxf(mx, fabsf(ys[r]));
                    float ev = 0, ea = 0; for (int r = 0; r < rows; r++) { ev = fmaxf(ev, fabsf(yv[r] - ys[r])); ea = fmaxf(ea, fabsf(ya[r] - ys[r])); }
                    if (ev > 1e-5f * mx) printf("fmt %d %dx%d t%d: vnni err %g avx2 err %g (scale %g)\n", fmt, rows, n, t, ev, ea, mx);
                    for (int r = 0; r < rows; r++) {
                        if (memcmp(&yv[r], &y[(size_t)t * rows + r], 4)) { if (bad++ < 5) printf("fmt %d %dx%d t%d r%d mm %g mv %g\n", fmt, rows, n, t, r, y[t * rows + r], yv[r]); }
                    }
                }
                free(x); free(xq); free(y); free(ys); free(yv);
            }
            free(w);
        }
        // timing: matvec on 768x2048-ish L2-resident and matmul 128 tokens on 768 rows x 768 cols
        int rows = 2048, n = 768, blocks = n / 256; size_t rb = (size_t)blocks * bb;
        uint8_t *w = malloc(rb * rows); fill(w, rb * rows, fmt, blocks * rows);
        int tokens = 128;
        float *x = malloc(sizeof(float) * n * tokens); for (int i = 0; i < n * tokens; i++) x[i] = nrm();
        moe_block_q8k *xq = malloc(sizeof(moe_block_q8k) * blocks * tokens);
        for (int t = 0; t < tokens; t++) moe_quantize_q8k(x + (size_t)t * n, n, xq + (size_t)t * blocks);
        float *y = malloc(4 * rows * tokens);
        mm mavx = fmt == 4 ? moe_matmul_q4_k : moe_matmul_q6_k;
        for (int rep = 0; rep < 3; rep++) {
            double best[4] = {1e9, 1e9, 1e9, 1e9};
            for (int it = 0; it < 20; it++) {
                double t0 = now(); avx(w, rb, xq, n, y, 0, rows); double t1 = now(); vn(w, rb, xq, n, y, 0, rows); double t2 = now();
                mavx(w, rb, xq, n, tokens, y, rows, 0, rows); double t3 = now(); mvn(w, rb, xq, n, tokens, y, rows, 0, rows); double t4 = now();
                if (t1 - t0 < best[0]) best[0] = t1 - t0; if (t2 - t1 < best[1]) best[1] = t2 - t1;
                if (t3 - t2 < best[2]) best[2] = t3 - t2; if (t4 - t3 < best[3]) best[3] = t4 - t3;
            }
            double ops = 2.0 * rows * n;
            printf("Q%d_K %dx%d matvec avx2 %.1f GOP/s vnni %.1f | matmul %d tok avx2 %.1f vnni %.1f GOP/s\n", fmt, rows, n, ops / best[0] * 1e-9, ops / best[1] * 1e-9, tokens, ops * tokens / best[2] * 1e-9, ops * tokens / best[3] * 1e-9);
        }
    }
    printf("%s (%d bad)\n", bad ? "FAIL" : "ok", bad);
    return bad != 0;
}
