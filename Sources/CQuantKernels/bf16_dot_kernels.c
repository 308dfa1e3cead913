// bf16 × bf16-rounded activation products (see bf16_dot_kernels.h): scalar twins, and AVX-512
// BF16 bodies compiled for that target by function attribute and chosen at run time
// (moe_cpu_has_avx512bf16), like quant_kernels_vnni.c.
#include "cpu_override.h"
#include "bf16_dot_kernels.h"
#include "vector_sums.h"

#include <string.h>

static inline uint32_t float_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static inline float bf16_to_float(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f; memcpy(&f, &bits, 4); return f;
}

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

// vcvtneps2bf16's convert_fp32_to_bfloat16, step for step: ties to even is "add 0x7FFF plus the
// bit that will become the last one kept, then drop the low 16 bits".
static inline uint16_t round_to_bf16(float f) {
    const uint32_t x = float_bits(f);
    const uint32_t exponent = x & 0x7F800000u, mantissa = x & 0x007FFFFFu;
    if (exponent == 0) return (uint16_t)((x >> 16) & 0x8000u);               // ±0, denormal → ±0
    if (exponent == 0x7F800000u) {
        if (mantissa == 0) return (uint16_t)(x >> 16);                        // ±∞
        return (uint16_t)((x >> 16) | 0x0040u);                               // NaN → quiet NaN
    }
    return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

void moe_round_to_bf16_scalar(const float *x, int n, uint16_t *out) {
    for (int i = 0; i < n; i++) out[i] = round_to_bf16(x[i]);
}

// Products of two bf16 are exact in f32 (8-bit significands); the sums are in double, so this
// twin is the exact dot product of the rounded vectors up to one final rounding.
void moe_matvec_bf16_dot_scalar(const void *w, size_t row_bytes, const uint16_t *xb, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (double)(bf16_to_float(load_u16(row + 2 * i)) * bf16_to_float(xb[i]));
        y[r] = (float)sum;
    }
}

void moe_matmul_bf16_dot_scalar(const void *w, size_t row_bytes, const uint16_t *xb, int n, int tokens, float *y, size_t ldy, int row_begin, int row_end) {
    for (int t = 0; t < tokens; t++)
        moe_matvec_bf16_dot_scalar(w, row_bytes, xb + (size_t)t * n, n, y + (size_t)t * ldy, row_begin, row_end);
}

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

int moe_cpu_has_avx512bf16(void) {
    __builtin_cpu_init();
    return moe_cpu_avx512_allowed() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16"))), apply_to = function)

// The first `count` (0…32) of 32 lanes: the tail of a row, loaded with zeros beyond it (a zero
// contributes nothing to vdpbf16ps's sums).
static inline __mmask32 first_lanes(int count) { return count >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << count) - 1); }

static inline __m512bh load_bf16x32(const void *p, __mmask32 lanes) {
    return (__m512bh)_mm512_maskz_loadu_epi16(lanes, p);
}

void moe_round_to_bf16_avx512bf16(const float *x, int n, uint16_t *out) {
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        // cvtne2ps_pbh(a, b): b's 16 conversions in the low half, a's in the high half.
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512(out + i, (__m512i)v);
    }
    for (; i < n; i += 16) {
        const __mmask16 lanes = (__mmask16)(n - i >= 16 ? 0xFFFF : ((1u << (n - i)) - 1));
        const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes, x + i));
        _mm256_mask_storeu_epi16(out + i, lanes, (__m256i)v);
    }
}

// Decode: one row at a time, on 256-bit vectors (16 bf16), four accumulators, 64 elements a step;
// the row is one stream the hardware prefetchers follow (no software prefetch, as in
// element_kernels.c). 256-bit, not 512: on this Zen 4 the 512-bit body streamed ~10% slower
// (one core, 512 MB of 8 MB matrices, 15 rounds: median 11.2–12.6 vs 13.9–14.0 GB/s, loaded
// machine; BENCHMARKS.md), as the element kernels' bf16 body did; two rows sharing the x loads
// were slower still (7 GB/s).
static inline __m256bh load_bf16x16(const void *p, __mmask16 lanes) {
    return (__m256bh)_mm256_maskz_loadu_epi16(lanes, p);
}


void moe_matvec_bf16_dot_avx512bf16(const void *w, size_t row_bytes, const uint16_t *xb, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 64 <= n; i += 64) {
            a0 = _mm256_dpbf16_ps(a0, (__m256bh)_mm256_loadu_si256((const __m256i *)(row + 2 * i)), (__m256bh)_mm256_loadu_si256((const __m256i *)(xb + i)));
            a1 = _mm256_dpbf16_ps(a1, (__m256bh)_mm256_loadu_si256((const __m256i *)(row + 2 * i + 32)), (__m256bh)_mm256_loadu_si256((const __m256i *)(xb + i + 16)));
            a2 = _mm256_dpbf16_ps(a2, (__m256bh)_mm256_loadu_si256((const __m256i *)(row + 2 * i + 64)), (__m256bh)_mm256_loadu_si256((const __m256i *)(xb + i + 32)));
            a3 = _mm256_dpbf16_ps(a3, (__m256bh)_mm256_loadu_si256((const __m256i *)(row + 2 * i + 96)), (__m256bh)_mm256_loadu_si256((const __m256i *)(xb + i + 48)));
        }
        for (; i < n; i += 16) {
            const __mmask16 lanes = (__mmask16)(n - i >= 16 ? 0xFFFF : ((1u << (n - i)) - 1));
            a0 = _mm256_dpbf16_ps(a0, load_bf16x16(row + 2 * i, lanes), load_bf16x16(xb + i, lanes));
        }
        y[r] = moe_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}

// Prompt batches, register-blocked: ROWS weight rows × TOKENS activation rows per block, one
// accumulator each (4 × 6 = 24 of the 32 zmm registers), so every 64-byte load feeds 4 or 6
// vdpbf16ps. ROWS and TOKENS are constants at each call, so the arrays live in registers.
static inline __attribute__((always_inline))
void block_dot(const uint8_t *w, size_t row_bytes, const uint16_t *xb, int n, float *y, size_t ldy,
               const int ROWS, const int TOKENS) {
    __m512 acc[4][6];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) acc[r][t] = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 32) {
        const __mmask32 lanes = first_lanes(n - i);
        __m512bh wv[4], xv[6];
        for (int r = 0; r < ROWS; r++) wv[r] = load_bf16x32(w + (size_t)r * row_bytes + 2 * (size_t)i, lanes);
        for (int t = 0; t < TOKENS; t++) xv[t] = load_bf16x32(xb + (size_t)t * n + i, lanes);
        for (int r = 0; r < ROWS; r++)
            for (int t = 0; t < TOKENS; t++) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv[t]);
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) y[(size_t)t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

#define BLOCK_TOKENS 6

static void block_rows(const uint8_t *w, size_t row_bytes, const uint16_t *xb, int n, float *y, size_t ldy, int rows, int tokens) {
    switch (rows * 8 + tokens) {
#define CASE(R, T) case R * 8 + T: block_dot(w, row_bytes, xb, n, y, ldy, R, T); break;
    CASE(4, 6) CASE(4, 5) CASE(4, 4) CASE(4, 3) CASE(4, 2) CASE(4, 1)
    CASE(1, 6) CASE(1, 5) CASE(1, 4) CASE(1, 3) CASE(1, 2) CASE(1, 1)
#undef CASE
    }
}

// Loop order: a tile of rows (~256 KiB, stays in L2) is read from memory once; for each group of
// 6 tokens (their activations stay in L1), the tile's rows pass through in blocks of 4.
void moe_matmul_bf16_dot_avx512bf16(const void *w, size_t row_bytes, const uint16_t *xb, int n, int tokens, float *y, size_t ldy, int row_begin, int row_end) {
    const size_t fit = ((size_t)256 << 10) / (row_bytes ? row_bytes : 1);
    const int tile_rows = fit < 4 ? 4 : fit > 4096 ? 4096 : (int)fit & ~3;
    for (int tile = row_begin; tile < row_end; tile += tile_rows) {
        const int tile_end = tile + tile_rows < row_end ? tile + tile_rows : row_end;
        for (int t = 0; t < tokens; t += BLOCK_TOKENS) {
            const int count = tokens - t < BLOCK_TOKENS ? tokens - t : BLOCK_TOKENS;
            const uint16_t *xt = xb + (size_t)t * n;
            float *yt = y + (size_t)t * ldy;
            int r = tile;
            for (; r + 4 <= tile_end; r += 4) block_rows((const uint8_t *)w + (size_t)r * row_bytes, row_bytes, xt, n, yt + r, ldy, 4, count);
            for (; r < tile_end; r++) block_rows((const uint8_t *)w + (size_t)r * row_bytes, row_bytes, xt, n, yt + r, ldy, 1, count);
        }
    }
}

#pragma clang attribute pop

#else
// Not x86-64 (or not clang): never chosen, since moe_cpu_has_avx512bf16() is 0.
int moe_cpu_has_avx512bf16(void) { return 0; }
void moe_round_to_bf16_avx512bf16(const float *x, int n, uint16_t *out) { moe_round_to_bf16_scalar(x, n, out); }
void moe_matvec_bf16_dot_avx512bf16(const void *w, size_t row_bytes, const uint16_t *xb, int n, float *y, int row_begin, int row_end) {
    moe_matvec_bf16_dot_scalar(w, row_bytes, xb, n, y, row_begin, row_end);
}
void moe_matmul_bf16_dot_avx512bf16(const void *w, size_t row_bytes, const uint16_t *xb, int n, int tokens, float *y, size_t ldy, int row_begin, int row_end) {
    moe_matmul_bf16_dot_scalar(w, row_bytes, xb, n, tokens, y, ldy, row_begin, row_end);
}
#endif
