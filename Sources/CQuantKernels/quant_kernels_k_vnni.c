// Q4_K and Q6_K products with AVX-512 (BW + VNNI) on 512-bit vectors: the matrix–vector kernels
// and the batched prompt kernels, both built from one row × G tokens function (G = 1 for the
// matvec), so a prompt's (row, token) result equals decoding's bit for bit by construction.
//
// Both formats' quants are unsigned (Q4_K's nibble n, Q6_K's 6-bit n before its −32), so
// vpmaddubsw multiplies them with the signed activations directly; VNNI's vpdpwssd then multiplies
// the pairs by the sub-block scale and adds them into the int32 lanes in one instruction. One zmm
// holds 64 weights: Q4_K's 32-byte chunk c unpacked to its two sub-blocks 2c, 2c + 1 (low nibbles
// then high ones, which is the activations' order), or half a Q6_K half (quarters 2kk and 2kk + 1,
// four sub-blocks of 16). Per 64 weights and token that is load, vpmaddubsw, vpdpwssd, where the
// AVX2 bodies need two vpmaddubsw, two vpmaddwd and two adds. The weight block is unpacked once
// per group of up to eight tokens (the driver's wide groups).
//
// What paid (stand-alone harness, 2048×768, one core, L2-resident): the batched kernels 1.4× (Q4_K)
// and 1.6× (Q6_K) the AVX2 ones; the matvec (G = 1, where nothing amortises the unpacking and
// 512-bit work leaves port 1 idle) only ~1.05× for Q4_K, 1.35× for Q6_K. A 256-bit Q4_K matvec
// (same lanes, scales broadcast from memory) measured slower than this one and was dropped.
//
// The lanes hold other partial sums than the AVX2 bodies' (16 int32 lanes, not 8), so the float
// multiply-adds round differently in the last bits: these kernels are twins of each other and of
// the naive product (within float tolerance), not of the AVX2 bodies.
// Compiled for that target by function attribute and chosen at run time (moe_cpu_has_vnni).
#include "quant_matmul.h"
#include "quant_matmul_driver.h"
#include "vector_sums.h"

#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

enum { Q4_K_BYTES = 144, Q4_K_SCALES = 4, Q4_K_QS = 16, Q6_K_BYTES = 210, Q6_K_QH = 128, Q6_K_SCALES = 192, Q6_K_D = 208 };

// 8 KiB ahead, past the 4 KiB pages the hardware prefetchers stop at (see quant_kernels_vnni.c).
#ifndef PREFETCH_BYTES
#define PREFETCH_BYTES 8192
#endif

static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// High half + low half, then moe_hsum8's pairwise order.
static inline float hsum16(__m512 v) {
    return moe_hsum8(_mm256_add_ps(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)), _mm512_castps512_ps256(v)));
}

// Word index vectors for vpermw: every word of 128-bit lane i (resp. 256-bit half i) picks word
// base + i of the source.
static inline __m512i words_per_lane(int base) {
    return _mm512_set_epi16(base + 3, base + 3, base + 3, base + 3, base + 3, base + 3, base + 3, base + 3,
                            base + 2, base + 2, base + 2, base + 2, base + 2, base + 2, base + 2, base + 2,
                            base + 1, base + 1, base + 1, base + 1, base + 1, base + 1, base + 1, base + 1,
                            base, base, base, base, base, base, base, base);
}

static inline __m512i words_per_half(int base) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)base)), _mm256_set1_epi16((short)(base + 1)), 1);
}

// ---- Q4_K -----------------------------------------------------------------------------------
// Per block: d·dx·Σ_j sc_j·Σ_i n_i·q_i − dmin·dx·Σ_j m_j·(Σ_i q_i over sub-block j), as in
// quant_kernels_body.h.
typedef struct {
    __m512i n[4];     // chunk c: sub-block 2c's nibbles, then 2c + 1's
    __m512i sc[4];    // chunk c: sc[2c] in words 0–15, sc[2c + 1] in words 16–31
    __m256i mins;     // m_j twice each, as 16 words (word 2j and 2j + 1 = m_j)
    __m512 scale;     // d in lanes 0–7, −dmin in lanes 8–15
} q4k_block;

// The packed 6-bit scales and mins (q4k_scales.h) decoded in one vector: bytes 0–7 sc0–7, 8–15
// m0–7. From the 16 bytes at the scales (the last 4 are quants, ignored): sc0–3 = b0–3 & 63,
// sc4–7 = (b8–11 & 15) | (b0–3 >> 2 & 0x30), m0–3 = b4–7 & 63, m4–7 = (b8–11 >> 4) | (b4–7 >> 2 & 0x30).
static inline __m128i q4k_scales_and_mins(const uint8_t *packed) {
    const __m128i b = _mm_loadu_si128((const __m128i *)packed);
    const __m128i low = _mm_shuffle_epi8(b, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i top = _mm_shuffle_epi8(b, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i lo = _mm_and_si128(low, _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(low, 4), _mm_setr_epi32(0, 0, 0, 0x0F0F0F0F));
    const __m128i up = _mm_and_si128(_mm_srli_epi16(top, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(_mm_or_si128(lo, hi), up);
}

static inline __attribute__((always_inline)) void q4k_load(const uint8_t *row, q4k_block *u) {
    const __m256i words = _mm256_cvtepu8_epi16(q4k_scales_and_mins(row + Q4_K_SCALES));   // sc0–7, m0–7
    const __m512i sc16 = _mm512_castsi256_si512(words);
    u->mins = _mm256_permutexvar_epi16(_mm256_setr_epi16(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15), words);
    // Both nibbles of a 32-byte chunk from one broadcast: the high half shifted right by 4.
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    for (int c = 0; c < 4; c++) {
        const __m512i packed = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(row + Q4_K_QS + 32 * c)));
        u->n[c] = _mm512_and_si512(_mm512_srlv_epi16(packed, shift), _mm512_set1_epi8(0x0F));
        u->sc[c] = _mm512_permutexvar_epi16(words_per_half(2 * c), sc16);
    }
    u->scale = _mm512_mask_mov_ps(_mm512_set1_ps(half_at(row)), 0xFF00, _mm512_set1_ps(-half_at(row + 2)));
}

// One block into a token's accumulator: lanes 0–7 Σ_j sc_j·Σ_i n_i·q_i (eight partial sums),
// lanes 8–15 Σ_j m_j·(bsums[2j] + bsums[2j + 1]) (lane 8 + j for sub-block j), converted once and
// multiplied by dx·(d, −dmin). Two integer chains (chunks 0, 2 and 1, 3) so that the vpdpwssd
// latencies overlap; integer sums are exact, so the lanes are the same either way.
static inline __attribute__((always_inline)) void q4k_token(const q4k_block *u, const moe_block_q8k *xb, __m512 *acc) {
    __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
    for (int c = 0; c < 4; c += 2) {
        const __m512i p0 = _mm512_maddubs_epi16(u->n[c], _mm512_loadu_si512((const void *)(xb->qs + 64 * c)));
        const __m512i p1 = _mm512_maddubs_epi16(u->n[c + 1], _mm512_loadu_si512((const void *)(xb->qs + 64 * c + 64)));
        even = _mm512_dpwssd_epi32(even, p0, u->sc[c]);
        odd = _mm512_dpwssd_epi32(odd, p1, u->sc[c + 1]);
    }
    const __m512i sums = _mm512_add_epi32(even, odd);
    const __m256i dots = _mm256_add_epi32(_mm512_castsi512_si256(sums), _mm512_extracti64x4_epi64(sums, 1));
    const __m256i mins = _mm256_madd_epi16(u->mins, _mm256_loadu_si256((const __m256i *)xb->bsums));
    const __m512 both = _mm512_cvtepi32_ps(_mm512_inserti64x4(_mm512_castsi256_si512(dots), mins, 1));
    *acc = _mm512_fmadd_ps(_mm512_mul_ps(u->scale, _mm512_set1_ps(xb->d)), both, *acc);
}

// Row × G tokens (token t's blocks at x + t·blocks), results to y[t·ldy].
static inline __attribute__((always_inline)) void q4k_group(const uint8_t *row, const moe_block_q8k *x, int blocks, const float *scales,
                                                            float *y, size_t ldy, const int G) {
    (void)scales;   // one float multiply-add per 256 elements: not worth gathering the scales
    __m512 acc[MOE_MATMUL_WIDE_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++, row += Q4_K_BYTES) {
        if (G == 1) {   // the matvec streams its rows once: fetch ahead (the batched kernel's tile sits in L2)
            _mm_prefetch((const char *)(row + PREFETCH_BYTES), _MM_HINT_T0);
            _mm_prefetch((const char *)(row + PREFETCH_BYTES + 64), _MM_HINT_T0);
        }
        q4k_block u;
        q4k_load(row, &u);
        for (int t = 0; t < G; t++) q4k_token(&u, x + (size_t)t * blocks + b, &acc[t]);
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = hsum16(acc[t]);
}

// ---- Q6_K -----------------------------------------------------------------------------------
// Per block: d·dx·Σ_s scale_s·(Σ_i n_i·q_i − 32·Σ_i q_i) over the 16 sub-blocks of 16. Element
// 128h + 64kk + i (0 ≤ i < 64) has its low 4 bits in ql[64h + i] >> 4kk and its high 2 bits in
// qh[32h + i mod 32] >> (4kk + 2·(i ≥ 32)) (layout in Q6_K.swift).
typedef struct {
    __m512i n[4];      // chunk 2h + kk: elements 128h + 64kk … + 63 as unsigned 6-bit n
    __m512i sc[4];     // chunk 2h + kk: scale 8h + 4kk + i as the words of 128-bit lane i
    __m256i offsets;   // −32·scale_s as 16 words (|·| ≤ 4096), for the −32·Σ scale·bsums term
    float d;
} q6k_block;

static inline __attribute__((always_inline)) void q6k_load(const uint8_t *row, q6k_block *u) {
    const __m128i scales8 = _mm_loadu_si128((const __m128i *)(row + Q6_K_SCALES));
    const __m256i scales16 = _mm256_cvtepi8_epi16(scales8);
    u->offsets = _mm256_mullo_epi16(scales16, _mm256_set1_epi16(-32));
    const __m512i scales = _mm512_castsi256_si512(scales16);
    // The top two bits moved to bits 4–5 of each byte: (qh >> s) & 3 << 4 with s = 4kk, 4kk + 2 in
    // the two halves, i.e. qh << 4, qh << 2 (kk = 0) and qh, qh >> 2 (kk = 1), then & 0x30. The
    // shifts are 16-bit; the mask drops what crossed from the neighbouring byte.
    const __m512i left = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i right = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512((const void *)(row + 64 * h));
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(row + Q6_K_QH + 32 * h)));
        const __m512i top0 = _mm512_and_si512(_mm512_sllv_epi16(qh, left), _mm512_set1_epi8(0x30));
        const __m512i top1 = _mm512_and_si512(_mm512_srlv_epi16(qh, right), _mm512_set1_epi8(0x30));
        u->n[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, _mm512_set1_epi8(0x0F)), top0);
        u->n[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), _mm512_set1_epi8(0x0F)), top1);
        u->sc[2 * h] = _mm512_permutexvar_epi16(words_per_lane(8 * h), scales);
        u->sc[2 * h + 1] = _mm512_permutexvar_epi16(words_per_lane(8 * h + 4), scales);
    }
    u->d = half_at(row + Q6_K_D);
}

static inline __attribute__((always_inline)) void q6k_token(const q6k_block *u, const moe_block_q8k *xb, __m512 *acc) {
    // −32·Σ_s scale_s·bsums[s] starts the low half; pairs ≤ 2·63·127 < 2¹⁵, so vpmaddubsw is exact.
    const __m256i offset = _mm256_madd_epi16(u->offsets, _mm256_loadu_si256((const __m256i *)xb->bsums));
    __m512i even = _mm512_zextsi256_si512(offset), odd = _mm512_setzero_si512();
    for (int c = 0; c < 4; c += 2) {
        const __m512i p0 = _mm512_maddubs_epi16(u->n[c], _mm512_loadu_si512((const void *)(xb->qs + 64 * c)));
        const __m512i p1 = _mm512_maddubs_epi16(u->n[c + 1], _mm512_loadu_si512((const void *)(xb->qs + 64 * c + 64)));
        even = _mm512_dpwssd_epi32(even, p0, u->sc[c]);
        odd = _mm512_dpwssd_epi32(odd, p1, u->sc[c + 1]);
    }
    *acc = _mm512_fmadd_ps(_mm512_set1_ps(u->d * xb->d), _mm512_cvtepi32_ps(_mm512_add_epi32(even, odd)), *acc);
}

static inline __attribute__((always_inline)) void q6k_group(const uint8_t *row, const moe_block_q8k *x, int blocks, const float *scales,
                                                            float *y, size_t ldy, const int G) {
    (void)scales;
    __m512 acc[MOE_MATMUL_WIDE_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++, row += Q6_K_BYTES) {
        if (G == 1)
            for (int line = 0; line < Q6_K_BYTES; line += 64) _mm_prefetch((const char *)(row + PREFETCH_BYTES + line), _MM_HINT_T0);
        q6k_block u;
        q6k_load(row, &u);
        for (int t = 0; t < G; t++) q6k_token(&u, x + (size_t)t * blocks + b, &acc[t]);
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = hsum16(acc[t]);
}

// ---- entry points -----------------------------------------------------------------------------
void moe_matvec_q4_k_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) q4k_group((const uint8_t *)w + (size_t)r * row_bytes, x, n / 256, NULL, y + r, 0, 1);
}

void moe_matvec_q6_k_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) q6k_group((const uint8_t *)w + (size_t)r * row_bytes, x, n / 256, NULL, y + r, 0, 1);
}

MOE_MATMUL_DEFINE_GROUPS(moe_matmul_q4_k_vnni, moe_block_q8k, 256, q4k_group, 8)
MOE_MATMUL_DEFINE_GROUPS(moe_matmul_q6_k_vnni, moe_block_q8k, 256, q6k_group, 8)

#pragma clang attribute pop

#else
// Not x86-64 (or not clang): never chosen, since moe_cpu_has_vnni() is 0.
void moe_matvec_q4_k_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    moe_matvec_q4_k(w, row_bytes, x, n, y, row_begin, row_end);
}
void moe_matvec_q6_k_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    moe_matvec_q6_k(w, row_bytes, x, n, y, row_begin, row_end);
}
void moe_matmul_q4_k_vnni(MOE_MATMUL_ARGS(moe_block_q8k)) { moe_matmul_q4_k(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end); }
void moe_matmul_q6_k_vnni(MOE_MATMUL_ARGS(moe_block_q8k)) { moe_matmul_q6_k(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end); }
#endif
