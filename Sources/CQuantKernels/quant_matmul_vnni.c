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

#include <stdlib.h>
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

MOE_MATMUL_DEFINE(moe_matmul_q8_0_vnni_256, moe_block_q8, 32, q8_0_group)

// ---- Q8_0, two blocks per zmm ----------------------------------------------------------------------
// What runs for Q8_0 where the prepared activations can be allocated: blocks b and b + 1 in one
// 512-bit vpdpbusd, as the wide matvec (quant_kernels_vnni.c q8_wide_pair) does, so the same float
// operations in the same order per lane — the same bits as the matvec and as the 256-bit body.
// Why: per pair of blocks and token the 256-bit body spends ten vector operations (a bias moved
// into a register, the product d_w·d_x broadcast, the dot, the convert, the multiply-add, twice);
// here five (the bias loaded as the dot's accumulator, the dot, the convert, the scale d_w·d_x as
// one multiply of two spread vectors, the multiply-add). Each group of four tokens is rearranged
// once per row tile: each block's quants, its −128·Σx in its first int32 lane, and d_x spread over
// the block's eight lanes.
typedef struct {
    int8_t *qs;      // [token][block][32]
    int32_t *bias;   // [token][block][8]: −128·Σx in lane 0, zeros
    float *dx;       // [token][block][8]: d_x in every lane of its block
} q8_pairs_x;

static void q8_pairs_prepare(const moe_block_q8 *x, int tokens, int blocks, q8_pairs_x *p) {
    for (int t = 0; t < tokens; t++)
        for (int b = 0; b < blocks; b++) {
            const moe_block_q8 *xb = x + (size_t)t * blocks + b;
            const size_t at = (size_t)t * blocks + b;
            _mm256_store_si256((__m256i *)(p->qs + 32 * at), _mm256_loadu_si256((const __m256i *)xb->qs));
            _mm256_store_si256((__m256i *)(p->bias + 8 * at), _mm256_zextsi128_si256(_mm_cvtsi32_si128(-128 * xb->sum)));
            _mm256_store_ps(p->dx + 8 * at, _mm256_set1_ps(xb->d));
        }
}

// One row × G tokens (a constant at each call, so the accumulators stay in registers), with the
// driver's group signature but reading the rearranged copy `p` instead of x. Unaligned loads: a
// token's blocks start 32 bytes after the previous token's when the block count is odd.
static inline __attribute__((always_inline)) void q8_pairs_group(const uint8_t *row, const moe_block_q8 *x, int blocks, const q8_pairs_x *p,
                                                                 float *y, size_t ldy, const int G) {
    (void)x;
    __m512 acc[MOE_MATMUL_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 1 < blocks; b += 2) {
        const uint8_t *pair = row + (size_t)b * 34;
        const __m512i u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(pair + 2))),
                                                              _mm256_loadu_si256((const __m256i *)(pair + 36)), 1),
                                           _mm512_set1_epi8((char)0x80));
        const __m512 dw = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(half_scale(pair))),
                                                              _mm256_castps_pd(_mm256_set1_ps(half_scale(pair + 34))), 1));
        for (int t = 0; t < G; t++) {
            const size_t at = (size_t)t * blocks + b;
            const __m512i sums = _mm512_dpbusd_epi32(_mm512_loadu_si512(p->bias + 8 * at), u, _mm512_loadu_si512(p->qs + 32 * at));
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_loadu_ps(p->dx + 8 * at)), _mm512_cvtepi32_ps(sums), acc[t]);
        }
    }
    for (int t = 0; t < G; t++) {
        __m256 even = _mm512_castps512_ps256(acc[t]), odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t]), 1));
        if (b < blocks) {
            const uint8_t *block = row + (size_t)b * 34;
            const size_t at = (size_t)t * blocks + b;
            const __m256i sums = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(p->bias + 8 * at)), q8_0_unsigned(block),
                                                     _mm256_loadu_si256((const __m256i *)(p->qs + 32 * at)));
            even = _mm256_fmadd_ps(_mm256_set1_ps(half_scale(block) * p->dx[8 * at]), _mm256_cvtepi32_ps(sums), even);
        }
        y[(size_t)t * ldy] = moe_hsum8(_mm256_add_ps(even, odd));
    }
}

void moe_matmul_q8_0_vnni(MOE_MATMUL_ARGS(moe_block_q8)) {
    const int blocks = n / 32;
    const size_t count = (size_t)MOE_MATMUL_GROUP * blocks;
    void *memory = NULL;
    if (blocks == 0 || posix_memalign(&memory, 64, count * (32 + 32 + 32)) != 0) {
        moe_matmul_q8_0_vnni_256(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end);
        return;
    }
    q8_pairs_x p = {(int8_t *)memory, (int32_t *)((uint8_t *)memory + 32 * count), (float *)((uint8_t *)memory + 64 * count)};
    // The shared driver's tiles and groups (a tile from memory once, from L2 once per group); each
    // group is rearranged once per tile (at 4096 columns a tile is 60 rows: a sixtieth of its dots).
    MOE_MATMUL_TILES(moe_block_q8, q8_pairs_group, 4, &p, q8_pairs_prepare(xt, g, blocks, &p);)
    free(memory);
}
MOE_MATMUL_DEFINE(moe_matmul_q4_0_vnni, moe_block_q8, 32, q4_0_group)

#pragma clang attribute pop

#else
// Not x86-64 (or not clang): never chosen, since moe_cpu_has_vnni() is 0.
void moe_matmul_q8_0_vnni(MOE_MATMUL_ARGS(moe_block_q8)) { moe_matmul_q8_0(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end); }
void moe_matmul_q4_0_vnni(MOE_MATMUL_ARGS(moe_block_q8)) { moe_matmul_q4_0(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end); }
#endif
