// Batch products Y = X·Wᵀ for f32, f16 and bf16 rows: scalar, AVX2 and AVX-512F bodies (see
// element_gemm.h). The vector bodies share element_gemm_body.h; the scalar ones are plain loops.
#include "element_gemm.h"
#include "half_float.h"
#include "vector_sums.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { GEMM_F32, GEMM_F16, GEMM_BF16 };

// A tile of x (tokens × n floats) this size or smaller is reused from L2 by every block of rows.
#define GEMM_X_TILE_BYTES (256 << 10)

static inline float bf16_to_float(uint16_t b) {
    const uint32_t bits = (uint32_t)b << 16;
    float f; memcpy(&f, &bits, 4); return f;
}

// Element k of a row, exactly (every f16 and bf16 is an f32): the row tails and the scalar bodies.
static inline float scalar_weight(int format, const uint8_t *row, int k) {
    if (format == GEMM_F32) { float f; memcpy(&f, row + 4 * k, 4); return f; }
    uint16_t h; memcpy(&h, row + 2 * k, 2);
    return format == GEMM_F16 ? moe_half_bits_to_float(h) : bf16_to_float(h);
}

// ---- scalar bodies (every machine; the tests hold them to the naive twin) --------------------

static void gemm_scalar(int format, const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int t = 0; t < tokens; t++) {
            float sum = 0;
            for (int i = 0; i < n; i++) sum += scalar_weight(format, row, i) * x[(size_t)t * n + i];
            y[(size_t)t * y_stride + r] = sum;
        }
    }
}

void moe_gemm_f32_scalar(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_F32, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_f16_scalar(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_F16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_bf16_scalar(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_BF16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// Row tails in the vector bodies: F16C's single-instruction conversion.
static inline float gemm_weight(int format, const uint8_t *row, int k) {
    if (format != GEMM_F16) return scalar_weight(format, row, k);
    uint16_t h; memcpy(&h, row + 2 * k, 2);
    return _cvtsh_ss(h);
}

// ---- AVX2 bodies (the x86-64 baseline; the unsuffixed names): 4 rows × 3 tokens ---------------
// 12 accumulators + 3 token vectors + 1 weight vector = the 16 ymm registers.


#define GEMM_FN(name) name
#define VEC __m256
#define VLEN 8
#define ROWS_PER_BLOCK 4
#define TOKENS_PER_BLOCK 3
#define V_ZERO() _mm256_setzero_ps()
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_HSUM(v) moe_hsum8(v)
#define V_LOADX(p) _mm256_loadu_ps(p)
#define V_LOAD_F32(p) _mm256_loadu_ps((const float *)(p))
#define V_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define V_LOAD_BF16(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#include "element_gemm_body.h"
#undef GEMM_FN
#undef VEC
#undef VLEN
#undef ROWS_PER_BLOCK
#undef TOKENS_PER_BLOCK
#undef V_ZERO
#undef V_FMA
#undef V_HSUM
#undef V_LOADX
#undef V_LOAD_F32
#undef V_LOAD_F16
#undef V_LOAD_BF16

// ---- AVX-512F bodies (chosen at run time: moe_cpu_has_avx512): 4 rows × 4 tokens -------------
// Unlike the bf16 matvec (element_kernels.c), which is a pure stream, a block's widening work
// is shared by four tokens, so the 512-bit bf16 body is the faster one here too.

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f"))), apply_to = function)
#define GEMM_FN(name) name##_avx512
#define VEC __m512
#define VLEN 16
#define ROWS_PER_BLOCK 4
#define TOKENS_PER_BLOCK 4
#define V_ZERO() _mm512_setzero_ps()
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define V_LOADX(p) _mm512_loadu_ps(p)
#define V_LOAD_F32(p) _mm512_loadu_ps((const float *)(p))
#define V_LOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define V_LOAD_BF16(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#include "element_gemm_body.h"
#pragma clang attribute pop
#else
void moe_gemm_f32_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    moe_gemm_f32(w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_f16_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    moe_gemm_f16(w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_bf16_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    moe_gemm_bf16(w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
#endif

#else
// Not x86-64 with AVX2: the unsuffixed and _avx512 names are the scalar bodies (moe_cpu_has_avx512
// is 0 there, so _avx512 is never chosen).
void moe_gemm_f32(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_F32, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_f16(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_F16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_bf16(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_BF16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_f32_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_F32, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_f16_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_F16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
void moe_gemm_bf16_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end) {
    gemm_scalar(GEMM_BF16, w, row_bytes, x, n, tokens, y, y_stride, row_begin, row_end);
}
#endif
