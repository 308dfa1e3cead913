// Batched Q8_0 and Q4_0 products with AVX-512 VNNI's vpdpbusd (quant_matmul.h): the weight block
// is biased to unsigned once (Q8_0: w XOR 0x80 = w + 128; Q4_0: the raw nibble n = w + 8) and
// dotted with each token of the group, the bias times the token block's sum starting in lane 0 —
// exactly quant_kernels_vnni.c's lanes, so its results bit for bit. (Not the AVX2 bodies': their
// lanes hold Σ w·x each, these Σ (w + bias)·x with the whole correction in lane 0, so the float
// multiply-adds round differently in the last bits.)
// Compiled for that target by function attribute and chosen at run time (moe_cpu_has_vnni).
#include "quant_matmul.h"
#include "quant_matmul_driver.h"
#include "vector_sums.h"

#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni"))), apply_to = function)

static inline float half_scale(const uint8_t *block) {
    uint16_t h;
    memcpy(&h, block, 2);
    return _cvtsh_ss(h);
}


// Block b of the row (its unsigned weights u, bias per unit of Σx) for G tokens into acc[t], with
// the scales d_w·d_x of the block formed beforehand (`products`, the matvec's float products).
#define VNNI_STEP(b, acc, u, bias)                                                                \
    for (int t = 0; t < G; t++) {                                                                 \
        const moe_block_q8 *xb = x + (size_t)t * blocks + (b);                                    \
        const __m256i sums = _mm256_dpbusd_epi32(_mm256_zextsi128_si256(_mm_cvtsi32_si128(-(bias) * xb->sum)), u, \
                                                 _mm256_loadu_si256((const __m256i *)xb->qs));    \
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(products[4 * (b) + t]), _mm256_cvtepi32_ps(sums), acc[t]); \
    }

static inline __m256i q8_0_unsigned(const uint8_t *block) {
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(block + 2)), _mm256_set1_epi8((char)0x80));
}

static inline __m256i q4_0_unsigned(const uint8_t *block) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)(block + 2));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F));
}

// Both formats' row × G tokens: even blocks into acc0, odd into acc1, as the matvec kernels do.
#define VNNI_GROUP(name, block_bytes, unpack, bias)                                               \
    static inline __attribute__((always_inline)) void name(const uint8_t *row, const moe_block_q8 *x, int blocks, \
                                                           const float *scales, float *y, size_t ldy, const int G) { \
        float products[4 * blocks + 4];                                                           \
        for (int b = 0; b < blocks; b++)                                                          \
            _mm_storeu_ps(products + 4 * b, _mm_mul_ps(_mm_set1_ps(half_scale(row + (size_t)b * (block_bytes))), \
                                                       _mm_loadu_ps(scales + 4 * b)));            \
        __m256 acc0[MOE_MATMUL_GROUP], acc1[MOE_MATMUL_GROUP];                                    \
        for (int t = 0; t < G; t++) acc0[t] = acc1[t] = _mm256_setzero_ps();                      \
        int b = 0;                                                                                \
        for (; b + 1 < blocks; b += 2) {                                                          \
            const uint8_t *even = row + (size_t)b * (block_bytes);                                \
            const __m256i u0 = unpack(even), u1 = unpack(even + (block_bytes));                   \
            VNNI_STEP(b, acc0, u0, bias)                                                          \
            VNNI_STEP(b + 1, acc1, u1, bias)                                                      \
        }                                                                                         \
        if (b < blocks) {                                                                         \
            const __m256i u0 = unpack(row + (size_t)b * (block_bytes));                           \
            VNNI_STEP(b, acc0, u0, bias)                                                          \
        }                                                                                         \
        for (int t = 0; t < G; t++) y[(size_t)t * ldy] = moe_hsum8(_mm256_add_ps(acc0[t], acc1[t]));  \
    }

VNNI_GROUP(q8_0_group, 34, q8_0_unsigned, 128)
VNNI_GROUP(q4_0_group, 18, q4_0_unsigned, 8)

MOE_MATMUL_DEFINE(moe_matmul_q8_0_vnni, moe_block_q8, 32, q8_0_group)
MOE_MATMUL_DEFINE(moe_matmul_q4_0_vnni, moe_block_q8, 32, q4_0_group)

#pragma clang attribute pop

#else
// Not x86-64 (or not clang): never chosen, since moe_cpu_has_vnni() is 0.
void moe_matmul_q8_0_vnni(MOE_MATMUL_ARGS(moe_block_q8)) { moe_matmul_q8_0(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end); }
void moe_matmul_q4_0_vnni(MOE_MATMUL_ARGS(moe_block_q8)) { moe_matmul_q4_0(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end); }
#endif
