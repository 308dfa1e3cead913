// Q4_K and Q5_K in rows8 groups (layouts and arithmetic in q4k_rows8.h): the packers, the scalar
// twins, the AVX-512 VNNI bodies and Q4_K's AVX2 body. Q5_K is Q4_K with a fifth bit plane (as in
// its row-major kernels, quant_kernels_body.h): the packers, twins and VNNI kernel serve both,
// `five` choosing.
#include "q4k_rows8.h"
#include "half_float.h"
#include "q4k_scales.h"
#include "rows8_common.h"

#include <math.h>
#include <string.h>

enum { Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q5_K_QH = 16, ROWS8_SCALES = 32, ROWS8_TOPS = 96, ROWS8_QH = 128 };

// A group's bytes per block, and where its quant chunks start (Q5_K: after its four qh chunks).
static inline int rows8_block_bytes(int five) { return 8 * (five ? Q5_K_BYTES : Q4_K_BYTES); }
static inline int rows8_qs(int five) { return five ? ROWS8_QH + 4 * 64 : ROWS8_QH; }

// ---- packing ----------------------------------------------------------------------------------
// Q4_K's 12 packed bytes from eight 6-bit scales and mins (the inverse of q4k_unpack_scales).
static void q4k_pack_scales(const uint8_t sc[8], const uint8_t m[8], uint8_t packed[12]) {
    for (int j = 0; j < 4; j++) {
        packed[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        packed[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        packed[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
}

static void kx_rows8_pack(const void *src, size_t row_bytes, int n, void *dst, int five) {
    const int in_block = five ? Q5_K_BYTES : Q4_K_BYTES, in_qs = five ? Q5_K_QH + 32 : 16, qs = rows8_qs(five);
    for (int b = 0; b < n / 256; b++) {
        uint8_t *out = (uint8_t *)dst + (size_t)b * rows8_block_bytes(five);
        uint8_t sc[64], m[64];
        for (int r = 0; r < 8; r++) {
            const uint8_t *block = (const uint8_t *)src + (size_t)r * row_bytes + (size_t)b * in_block;
            memcpy(out + 2 * r, block, 2);
            memcpy(out + 16 + 2 * r, block + 2, 2);
            uint8_t s8[8], m8[8];
            q4k_unpack_scales(block + 4, s8, m8);
            for (int j = 0; j < 8; j++) { sc[8 * j + r] = s8[j]; m[8 * r + j] = m8[j]; }
            if (five)
                for (int s = 0; s < 4; s++) memcpy(out + ROWS8_QH + 64 * s + 8 * r, block + Q5_K_QH + 8 * s, 8);
            for (int q = 0; q < 16; q++) memcpy(out + qs + 64 * q + 8 * r, block + in_qs + 8 * q, 8);
        }
        for (int i = 0; i < 64; i++) out[ROWS8_SCALES + i] = (uint8_t)((sc[i] & 15) | ((m[i] & 15) << 4));
        for (int k = 0; k < 32; k++)
            out[ROWS8_TOPS + k] = (uint8_t)((sc[k] >> 4) | ((sc[k + 32] >> 4) << 2) | ((m[k] >> 4) << 4) | ((m[k + 32] >> 4) << 6));
    }
}

void moe_q4k_rows8_pack(const void *src, size_t row_bytes, int n, void *dst) { kx_rows8_pack(src, row_bytes, n, dst, 0); }
void moe_q5k_rows8_pack(const void *src, size_t row_bytes, int n, void *dst) { kx_rows8_pack(src, row_bytes, n, dst, 1); }

// Scale value i (sub-block i / 8 of row i % 8) and min value i (sub-block i % 8 of row i / 8).
static inline int rows8_scale(const uint8_t *block, int i) {
    return (block[ROWS8_SCALES + i] & 15) | (((block[ROWS8_TOPS + i % 32] >> (2 * (i / 32))) & 3) << 4);
}

static inline int rows8_min(const uint8_t *block, int i) {
    return (block[ROWS8_SCALES + i] >> 4) | (((block[ROWS8_TOPS + i % 32] >> (4 + 2 * (i / 32))) & 3) << 4);
}

static void kx_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst, int five) {
    const int out_block = five ? Q5_K_BYTES : Q4_K_BYTES, out_qs = five ? Q5_K_QH + 32 : 16, qs = rows8_qs(five);
    for (int b = 0; b < n / 256; b++) {
        const uint8_t *in = (const uint8_t *)src + (size_t)b * rows8_block_bytes(five);
        for (int r = 0; r < 8; r++) {
            uint8_t *block = (uint8_t *)dst + (size_t)r * row_bytes + (size_t)b * out_block;
            memcpy(block, in + 2 * r, 2);
            memcpy(block + 2, in + 16 + 2 * r, 2);
            uint8_t s8[8], m8[8];
            for (int j = 0; j < 8; j++) { s8[j] = (uint8_t)rows8_scale(in, 8 * j + r); m8[j] = (uint8_t)rows8_min(in, 8 * r + j); }
            q4k_pack_scales(s8, m8, block + 4);
            if (five)
                for (int s = 0; s < 4; s++) memcpy(block + Q5_K_QH + 8 * s, in + ROWS8_QH + 64 * s + 8 * r, 8);
            for (int q = 0; q < 16; q++) memcpy(block + out_qs + 8 * q, in + qs + 64 * q + 8 * r, 8);
        }
    }
}

void moe_q4k_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst) { kx_rows8_unpack(src, row_bytes, n, dst, 0); }
void moe_q5k_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst) { kx_rows8_unpack(src, row_bytes, n, dst, 1); }

// ---- scalar twin --------------------------------------------------------------------------------
static inline uint16_t half_bits(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

// Row `lane` of the group at `group`, dotted with one token's blocks.
static float kx_rows8_dot_scalar(const uint8_t *group, int lane, const moe_block_q8k *x, int blocks, int five) {
    const int qs = rows8_qs(five);
    float acc_d = 0, acc_m = 0;
    for (int b = 0; b < blocks; b++, group += rows8_block_bytes(five)) {
        int32_t s = 0, mins = 0;
        for (int j = 0; j < 8; j++) {
            const int c = j / 2, high = j % 2;
            int32_t dot = 0;
            for (int step = 0; step < 4; step++)
                for (int e = 0; e < 8; e++) {
                    const uint8_t byte = group[qs + 64 * (4 * c + step) + 8 * lane + e];
                    const int fifth = five ? ((group[ROWS8_QH + 64 * step + 8 * lane + e] >> j) & 1) << 4 : 0;
                    dot += ((high ? byte >> 4 : byte & 15) | fifth) * x[b].qs[64 * c + 32 * high + 8 * step + e];
                }
            s += rows8_scale(group, 8 * j + lane) * dot;
            mins += rows8_min(group, 8 * lane + j) * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        const float dx = x[b].d;
        acc_d = fmaf(moe_half_bits_to_float(half_bits(group + 2 * lane)) * dx, (float)s, acc_d);
        acc_m = fmaf(moe_half_bits_to_float(half_bits(group + 16 + 2 * lane)) * -dx, (float)mins, acc_m);
    }
    return acc_d + acc_m;
}

static float q4k_rows8_dot_scalar(const uint8_t *group, int lane, const moe_block_q8k *x, int blocks) { return kx_rows8_dot_scalar(group, lane, x, blocks, 0); }
static float q5k_rows8_dot_scalar(const uint8_t *group, int lane, const moe_block_q8k *x, int blocks) { return kx_rows8_dot_scalar(group, lane, x, blocks, 1); }

ROWS8_SCALAR_ENTRY_POINTS(moe_matvec_q4_k_rows8_scalar, moe_matmul_q4_k_rows8_scalar, moe_block_q8k, 256, q4k_rows8_dot_scalar)
ROWS8_SCALAR_ENTRY_POINTS(moe_matvec_q5_k_rows8_scalar, moe_matmul_q5_k_rows8_scalar, moe_block_q8k, 256, q5k_rows8_dot_scalar)

// ---- AVX-512 VNNI -------------------------------------------------------------------------------
#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

// Permutation indices, built once per call. A sub-block pair's sums, packed to words, lie per
// 128-bit lane L as [sub-block 2c: rows 2L, 2L, 2L+1, 2L+1 | sub-block 2c+1: the same rows]
// (halves h = 0, 1 of each row's eight positions); the scales are gathered into that order, and
// the resulting dwords (row 2L + q % 2, sub-block parity q / 2 at 4L + q) folded to one per row.
typedef struct {
    __m512i pair_scales[4];        // into the 64 scale words (two vectors): sub-block pair c
    __m512i mins_even, mins_odd;   // (row, pair) min sums, four per row → (row, half) as 2r + h
    __m512i rows_even, rows_odd;   // S as above and M as (row, half) → S of rows 0–7, then M of rows 0–7
} rows8_indices;

static inline void rows8_indices_init(rows8_indices *ix) {
    for (int c = 0; c < 4; c++) {
        short words[32];
        for (int lane = 0; lane < 4; lane++)
            for (int w = 0; w < 8; w++) words[8 * lane + w] = (short)(8 * (2 * c + (w >= 4)) + 2 * lane + (w % 4) / 2);
        ix->pair_scales[c] = _mm512_loadu_si512((const void *)words);
    }
    int me[16], mo[16], re[16], ro[16];
    for (int r = 0; r < 8; r++)
        for (int h = 0; h < 2; h++) { me[2 * r + h] = 4 * r + h; mo[2 * r + h] = 4 * r + h + 2; }
    rows8_fold_indices(re, ro);
    ix->mins_even = _mm512_loadu_si512((const void *)me);
    ix->mins_odd = _mm512_loadu_si512((const void *)mo);
    ix->rows_even = _mm512_loadu_si512((const void *)re);
    ix->rows_odd = _mm512_loadu_si512((const void *)ro);
}

// One group of eight rows × G tokens: y[t·ldy + r] for the rows in `keep`. Per sub-block pair c,
// vpdpbusd sums the low-nibble sub-block and the high one apart (each dword four weights × four
// steps, |·| ≤ 16·15·127 < 2¹⁵), vpackssdw packs the two to words (exactly) and one vpdpwssd
// applies both sub-blocks' scales. Q5_K's values reach 31, so its sums are packed every two steps
// (8·31·127 < 2¹⁵), two vpdpwssd per pair; its fifth bits come from the block's four qh chunks,
// loaded once. Q4_K: 36 multiplying instructions per group and block where
// vpmaddubsw + vpdpwssd per 64 weights took 64 (one Zen 4 core, L2: 32 → 50 GB/s). No software
// prefetch: a group streams as one sequence, and from huge pages the hardware prefetchers kept up
// (`moepp matvec-bench`, 4096 × 4096 from memory, one core: 29–30 GB/s without, 20–27 with
// prefetches 1–8 KiB ahead).
static inline __attribute__((always_inline)) void kx_rows8_group(const uint8_t *group, const moe_block_q8k *x, int blocks, const rows8_indices *ix,
                                                                 float *y, size_t ldy, __mmask8 keep, const int G, const int five) {
    const int qs = rows8_qs(five), block_bytes = rows8_block_bytes(five), steps_per_pack = five ? 2 : 4;
    __m512 acc[MOE_ROWS8_MAX_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm512_setzero_ps();
    const __m512i nibble = _mm512_set1_epi8(0x0F), top_bits = _mm512_set1_epi8(0x30);
    const __m512i scale_shift = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i min_shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i fifth_bit = _mm512_set1_epi8(0x10);
    for (int b = 0; b < blocks; b++, group += block_bytes) {
        // The 64 scales and 64 mins as bytes (layout in q4k_rows8.h), then as words.
        const __m512i low = _mm512_loadu_si512((const void *)(group + ROWS8_SCALES));
        const __m512i tops = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(group + ROWS8_TOPS)));
        const __m512i sc = _mm512_or_si512(_mm512_and_si512(low, nibble), _mm512_and_si512(_mm512_sllv_epi16(tops, scale_shift), top_bits));
        const __m512i m = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(low, 4), nibble), _mm512_and_si512(_mm512_srlv_epi16(tops, min_shift), top_bits));
        const __m512i sc_lo = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(sc)), sc_hi = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(sc, 1));
        const __m512i m_lo = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(m)), m_hi = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(m, 1));
        const __m512 d_dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)group));
        __m512i pair_scale[4];
        for (int c = 0; c < 4; c++) pair_scale[c] = _mm512_permutex2var_epi16(sc_lo, ix->pair_scales[c], sc_hi);
        __m512i total[MOE_ROWS8_MAX_GROUP];
        for (int t = 0; t < G; t++) total[t] = _mm512_setzero_si512();
        __m512i qh[4];
        if (five)
            for (int s = 0; s < 4; s++) qh[s] = _mm512_loadu_si512((const void *)(group + ROWS8_QH + 64 * s));
        for (int c = 0; c < 4; c++) {
            for (int s0 = 0; s0 < 4; s0 += steps_per_pack) {
                __m512i lo_acc[MOE_ROWS8_MAX_GROUP], hi_acc[MOE_ROWS8_MAX_GROUP];
                for (int t = 0; t < G; t++) lo_acc[t] = hi_acc[t] = _mm512_setzero_si512();
                for (int s = s0; s < s0 + steps_per_pack; s++) {
                    const __m512i q = _mm512_loadu_si512((const void *)(group + qs + 64 * (4 * c + s)));
                    __m512i lo = _mm512_and_si512(q, nibble), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), nibble);
                    if (five) {
                        // Bits 2c and 2c + 1 of each qh byte to bit 4 (the 16-bit shifts move bits
                        // across bytes; the mask keeps each byte's own).
                        const __m512i b_lo = 2 * c <= 4 ? _mm512_slli_epi16(qh[s], 4 - 2 * c) : _mm512_srli_epi16(qh[s], 2 * c - 4);
                        const __m512i b_hi = 2 * c + 1 <= 4 ? _mm512_slli_epi16(qh[s], 3 - 2 * c) : _mm512_srli_epi16(qh[s], 2 * c - 3);
                        lo = _mm512_ternarylogic_epi32(lo, b_lo, fifth_bit, 0xF8);   // lo | (b_lo & 0x10)
                        hi = _mm512_ternarylogic_epi32(hi, b_hi, fifth_bit, 0xF8);
                    }
                    for (int t = 0; t < G; t++) {
                        const int8_t *xq = x[(size_t)t * blocks + b].qs + 64 * c + 8 * s;
                        lo_acc[t] = _mm512_dpbusd_epi32(lo_acc[t], lo, rows8_broadcast8(xq));
                        hi_acc[t] = _mm512_dpbusd_epi32(hi_acc[t], hi, rows8_broadcast8(xq + 32));
                    }
                }
                for (int t = 0; t < G; t++) total[t] = _mm512_dpwssd_epi32(total[t], _mm512_packs_epi32(lo_acc[t], hi_acc[t]), pair_scale[c]);
            }
        }
        for (int t = 0; t < G; t++) {
            const moe_block_q8k *xb = x + (size_t)t * blocks + b;
            const __m128i bsum8 = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums), _mm_loadu_si128((const __m128i *)(xb->bsums + 8)));
            const __m512i bsums = _mm512_broadcast_i32x4(bsum8);
            const __m512i mins_lo = _mm512_madd_epi16(m_lo, bsums), mins_hi = _mm512_madd_epi16(m_hi, bsums);
            const __m512i mins = _mm512_add_epi32(_mm512_permutex2var_epi32(mins_lo, ix->mins_even, mins_hi),
                                                  _mm512_permutex2var_epi32(mins_lo, ix->mins_odd, mins_hi));
            const __m512i both = _mm512_add_epi32(_mm512_permutex2var_epi32(total[t], ix->rows_even, mins),
                                                  _mm512_permutex2var_epi32(total[t], ix->rows_odd, mins));
            const __m512 dx = _mm512_mask_mov_ps(_mm512_set1_ps(xb->d), 0xFF00, _mm512_set1_ps(-xb->d));
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(d_dmin, dx), _mm512_cvtepi32_ps(both), acc[t]);
        }
    }
    for (int t = 0; t < G; t++) {
        const __m256 rows = _mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t]), 1)));
        _mm256_mask_storeu_ps(y + (size_t)t * ldy, keep, rows);
    }
}

static inline __attribute__((always_inline)) void q4k_rows8_group(const uint8_t *group, const moe_block_q8k *x, int blocks, const rows8_indices *ix,
                                                                  float *y, size_t ldy, __mmask8 keep, const int G) {
    kx_rows8_group(group, x, blocks, ix, y, ldy, keep, G, 0);
}

static inline __attribute__((always_inline)) void q5k_rows8_group(const uint8_t *group, const moe_block_q8k *x, int blocks, const rows8_indices *ix,
                                                                  float *y, size_t ldy, __mmask8 keep, const int G) {
    kx_rows8_group(group, x, blocks, ix, y, ldy, keep, G, 1);
}

ROWS8_GROUP_ENTRY_POINTS(moe_matvec_q4_k_rows8_vnni, moe_matmul_q4_k_rows8_vnni, moe_block_q8k, 256, rows8_indices, rows8_indices_init, q4k_rows8_group)
ROWS8_GROUP_ENTRY_POINTS(moe_matvec_q5_k_rows8_vnni, moe_matmul_q5_k_rows8_vnni, moe_block_q8k, 256, rows8_indices, rows8_indices_init, q5k_rows8_group)

#pragma clang attribute pop

// ---- AVX2 (Q4_K only) ---------------------------------------------------------------------------
// For CPUs without AVX-512 VNNI (llama.cpp repacks Q4_K for AVX2 too). A 64-byte chunk is two
// 256-bit halves of four rows each (row 4h + k of half h in 64-bit lane k). Per half, vpmaddubsw
// of the unsigned quants and the signed activation bytes gives word pairs (|·| ≤ 2·15·128, no
// saturation), summed over a sub-block's four steps in words (≤ 8·15·128 < 2¹⁵) and multiplied by
// the rows' scale words with vpmaddwd: two dwords per row. Every sum is exact, so this body equals
// the scalar twin bit for bit. One token at a time: the block (1152 bytes) stays in L1 for the
// next token of a batch, and sixteen ymm registers hold one token's sums without spilling.
// (The same body with Q5_K's fifth bit merged — three more operations per 32 bytes — ran no faster
// than Q5_K's row-major AVX2 body: 17.6 against 17.0 GB/s on one core, so Q5_K stays row-major on
// AVX2; BENCHMARKS.md "Q4_K eight-row groups on AVX2".)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

typedef struct {
    __m256i scale_words[2];   // vpshufb patterns: a sub-block's eight scale bytes → rows 4h…4h+3 as four words each
    __m256i mins_order;       // [r0 r2 r4 r6 | r1 r3 r5 r7] → rows 0–7
    __m256i row_bits;         // 1, 2, 4, … 128: the `keep` mask per lane
} kx_avx2_indices;

static inline void kx_avx2_indices_init(kx_avx2_indices *ix) {
    for (int h = 0; h < 2; h++) {
        int8_t pattern[32];
        for (int lane = 0; lane < 2; lane++)
            for (int w = 0; w < 8; w++) {
                pattern[16 * lane + 2 * w] = (int8_t)(4 * h + 2 * lane + w / 4);
                pattern[16 * lane + 2 * w + 1] = (int8_t)0x80;   // high byte of each word: zero
            }
        ix->scale_words[h] = _mm256_loadu_si256((const __m256i *)pattern);
    }
    ix->mins_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    ix->row_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
}

static inline __m256i kx_broadcast8(const void *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return _mm256_set1_epi64x(v);
}

static inline __attribute__((always_inline)) void q4k_rows8_group_avx2(const uint8_t *group, const moe_block_q8k *x, int blocks,
                                                                       const kx_avx2_indices *ix, float *y, size_t ldy, unsigned char keep,
                                                                       const int G) {
    const int qs = rows8_qs(0), block_bytes = rows8_block_bytes(0);
    __m256 acc_d[MOE_ROWS8_MAX_GROUP], acc_m[MOE_ROWS8_MAX_GROUP];
    for (int t = 0; t < G; t++) acc_d[t] = acc_m[t] = _mm256_setzero_ps();
    const __m256i nibble = _mm256_set1_epi8(0x0F), top_bits = _mm256_set1_epi8(0x30);
    _Alignas(32) uint8_t sc[64], mins[64];
    for (int b = 0; b < blocks; b++, group += block_bytes) {
        // The 64 scale and 64 min values as bytes (layout in q4k_rows8.h).
        const __m256i low0 = _mm256_loadu_si256((const __m256i *)(group + ROWS8_SCALES));
        const __m256i low1 = _mm256_loadu_si256((const __m256i *)(group + ROWS8_SCALES + 32));
        const __m256i tops = _mm256_loadu_si256((const __m256i *)(group + ROWS8_TOPS));
        _mm256_store_si256((__m256i *)sc, _mm256_or_si256(_mm256_and_si256(low0, nibble), _mm256_and_si256(_mm256_slli_epi16(tops, 4), top_bits)));
        _mm256_store_si256((__m256i *)(sc + 32), _mm256_or_si256(_mm256_and_si256(low1, nibble), _mm256_and_si256(_mm256_slli_epi16(tops, 2), top_bits)));
        _mm256_store_si256((__m256i *)mins, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low0, 4), nibble), _mm256_and_si256(tops, top_bits)));
        _mm256_store_si256((__m256i *)(mins + 32),
                           _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low1, 4), nibble), _mm256_and_si256(_mm256_srli_epi16(tops, 2), top_bits)));
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)group));
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(group + 16)));
        for (int t = 0; t < G; t++) {
            const moe_block_q8k *xb = x + (size_t)t * blocks + b;
            __m256i total[2];
            for (int h = 0; h < 2; h++) {
                total[h] = _mm256_setzero_si256();
                for (int c = 0; c < 4; c++) {
                    __m256i w_lo = _mm256_setzero_si256(), w_hi = _mm256_setzero_si256();
                    for (int s = 0; s < 4; s++) {
                        const __m256i q = _mm256_loadu_si256((const __m256i *)(group + qs + 64 * (4 * c + s) + 32 * h));
                        const __m256i lo = _mm256_and_si256(q, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
                        w_lo = _mm256_add_epi16(w_lo, _mm256_maddubs_epi16(lo, kx_broadcast8(xb->qs + 64 * c + 8 * s)));
                        w_hi = _mm256_add_epi16(w_hi, _mm256_maddubs_epi16(hi, kx_broadcast8(xb->qs + 64 * c + 32 + 8 * s)));
                    }
                    const __m256i s_lo = _mm256_shuffle_epi8(kx_broadcast8(sc + 8 * (2 * c)), ix->scale_words[h]);
                    const __m256i s_hi = _mm256_shuffle_epi8(kx_broadcast8(sc + 8 * (2 * c + 1)), ix->scale_words[h]);
                    total[h] = _mm256_add_epi32(total[h], _mm256_add_epi32(_mm256_madd_epi16(w_lo, s_lo), _mm256_madd_epi16(w_hi, s_hi)));
                }
            }
            // [r0 r1 r4 r5 | r2 r3 r6 r7] → rows 0–7.
            const __m256i S = _mm256_permute4x64_epi64(_mm256_hadd_epi32(total[0], total[1]), 0xD8);
            // M = Σ_j m_j·(bsums[2j] + bsums[2j+1]): rows 2k, 2k+1 per vector, then folded to one lane per row.
            const __m256i pairs = _mm256_broadcastsi128_si256(
                _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums), _mm_loadu_si128((const __m128i *)(xb->bsums + 8))));
            __m256i v[4];
            for (int k = 0; k < 4; k++) v[k] = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(mins + 16 * k))), pairs);
            const __m256i M = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3])), ix->mins_order);
            acc_d[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(xb->d)), _mm256_cvtepi32_ps(S), acc_d[t]);
            acc_m[t] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, _mm256_set1_ps(-xb->d)), _mm256_cvtepi32_ps(M), acc_m[t]);
        }
    }
    const __m256i lanes = _mm256_and_si256(_mm256_set1_epi32(keep), ix->row_bits);
    const __m256i store = _mm256_cmpeq_epi32(lanes, ix->row_bits);
    for (int t = 0; t < G; t++) _mm256_maskstore_ps(y + (size_t)t * ldy, store, _mm256_add_ps(acc_d[t], acc_m[t]));
}

ROWS8_GROUP_ENTRY_POINTS(moe_matvec_q4_k_rows8_avx2, moe_matmul_q4_k_rows8_avx2, moe_block_q8k, 256, kx_avx2_indices, kx_avx2_indices_init, q4k_rows8_group_avx2)

#pragma clang attribute pop

#else
ROWS8_AS_SCALAR(moe_matvec_q4_k_rows8_avx2, moe_matmul_q4_k_rows8_avx2, moe_block_q8k, moe_matvec_q4_k_rows8_scalar, moe_matmul_q4_k_rows8_scalar)
ROWS8_AS_SCALAR(moe_matvec_q4_k_rows8_vnni, moe_matmul_q4_k_rows8_vnni, moe_block_q8k, moe_matvec_q4_k_rows8_scalar, moe_matmul_q4_k_rows8_scalar)
ROWS8_AS_SCALAR(moe_matvec_q5_k_rows8_vnni, moe_matmul_q5_k_rows8_vnni, moe_block_q8k, moe_matvec_q5_k_rows8_scalar, moe_matmul_q5_k_rows8_scalar)
#endif
