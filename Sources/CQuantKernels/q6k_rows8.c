// Q6_K in rows8 groups (layout and arithmetic in q6k_rows8.h): the packer, the scalar twin and the
// AVX-512 VNNI bodies.
#include "q6k_rows8.h"
#include "half_float.h"
#include "rows8_common.h"

#include <math.h>
#include <string.h>

enum { Q6_K_BYTES = 210, Q6_K_QH = 128, Q6_K_SCALES = 192, Q6_K_D = 208 };
enum { ROWS8_BLOCK = 8 * Q6_K_BYTES, ROWS8_SCALES = 16, ROWS8_UNITS = 144, ROWS8_UNIT = 384 };

// Where a block's ql chunk q (h = q / 8, k = q mod 4, low or high 32 bytes (q mod 8) / 4) and qh
// chunk p (h = p / 4, k = p mod 4) lie: in unit 2h + k / 2, in the order the header gives.
static inline int ql_at(int q) {
    const int h = q / 8, k = q % 4, high = (q % 8) / 4;
    return ROWS8_UNITS + ROWS8_UNIT * (2 * h + k / 2) + 128 + 128 * high + 64 * (k % 2);
}
static inline int qh_at(int p) { return ROWS8_UNITS + ROWS8_UNIT * (p / 2) + 64 * (p % 2); }

// ---- packing ----------------------------------------------------------------------------------
void moe_q6k_rows8_pack(const void *src, size_t row_bytes, int n, void *dst) {
    for (int b = 0; b < n / 256; b++) {
        uint8_t *out = (uint8_t *)dst + (size_t)b * ROWS8_BLOCK;
        for (int r = 0; r < 8; r++) {
            const uint8_t *block = (const uint8_t *)src + (size_t)r * row_bytes + (size_t)b * Q6_K_BYTES;
            memcpy(out + 2 * r, block + Q6_K_D, 2);
            for (int s = 0; s < 16; s++) out[ROWS8_SCALES + 8 * s + r] = block[Q6_K_SCALES + s];
            for (int q = 0; q < 16; q++) memcpy(out + ql_at(q) + 8 * r, block + 8 * q, 8);
            for (int p = 0; p < 8; p++) memcpy(out + qh_at(p) + 8 * r, block + Q6_K_QH + 8 * p, 8);
        }
    }
}

void moe_q6k_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst) {
    for (int b = 0; b < n / 256; b++) {
        const uint8_t *in = (const uint8_t *)src + (size_t)b * ROWS8_BLOCK;
        for (int r = 0; r < 8; r++) {
            uint8_t *block = (uint8_t *)dst + (size_t)r * row_bytes + (size_t)b * Q6_K_BYTES;
            memcpy(block + Q6_K_D, in + 2 * r, 2);
            for (int s = 0; s < 16; s++) block[Q6_K_SCALES + s] = in[ROWS8_SCALES + 8 * s + r];
            for (int q = 0; q < 16; q++) memcpy(block + 8 * q, in + ql_at(q) + 8 * r, 8);
            for (int p = 0; p < 8; p++) memcpy(block + Q6_K_QH + 8 * p, in + qh_at(p) + 8 * r, 8);
        }
    }
}

// ---- scalar twin --------------------------------------------------------------------------------
// The unsigned 6-bit n of element e of row `lane` in one group block (n − 32 is the quant).
static inline int rows8_q6(const uint8_t *block, int lane, int e) {
    const int h = e / 128, m = (e % 128) / 32, l = e % 32;
    const int i = 64 * h + 32 * (m % 2) + l, j = 32 * h + l;
    const uint8_t ql = block[ql_at(i / 8) + 8 * lane + i % 8], qh = block[qh_at(j / 8) + 8 * lane + j % 8];
    return (m < 2 ? ql & 15 : ql >> 4) | (((qh >> (2 * m)) & 3) << 4);
}

static float rows8_dot_scalar(const uint8_t *group, int lane, const moe_block_q8k *x, int blocks) {
    float acc = 0;
    for (int b = 0; b < blocks; b++, group += ROWS8_BLOCK) {
        int32_t total = 0;
        for (int s = 0; s < 16; s++) {
            int32_t dot = 0;
            for (int e = 16 * s; e < 16 * s + 16; e++) dot += rows8_q6(group, lane, e) * x[b].qs[e];
            total += (int8_t)group[ROWS8_SCALES + 8 * s + lane] * (dot - 32 * x[b].bsums[s]);
        }
        uint16_t h;
        memcpy(&h, group + 2 * lane, 2);
        acc = fmaf(moe_half_bits_to_float(h) * x[b].d, (float)total, acc);
    }
    return acc;
}

ROWS8_SCALAR_ENTRY_POINTS(moe_matvec_q6_k_rows8_scalar, moe_matmul_q6_k_rows8_scalar, moe_block_q8k, 256, rows8_dot_scalar)

// ---- AVX-512 VNNI -------------------------------------------------------------------------------
#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

// Scale words for sub-block s in the order a packed pair of vpdpbusd results lies (per 128-bit
// lane L: rows 2L, 2L, 2L + 1, 2L + 1, twice): from the four vectors of 32 scale words (word
// 8s + r, sub-blocks 4k … 4k + 3 in vector k), index 8(s mod 4) + 2L + (w mod 4) / 2.
typedef struct {
    __m512i scale_words[4];
    __m512i rows_even, rows_odd;
} rows8_q6_indices;

static inline void rows8_q6_indices_init(rows8_q6_indices *ix) {
    for (int s = 0; s < 4; s++) {
        short words[32];
        for (int lane = 0; lane < 4; lane++)
            for (int w = 0; w < 8; w++) words[8 * lane + w] = (short)(8 * s + 2 * lane + (w % 4) / 2);
        ix->scale_words[s] = _mm512_loadu_si512((const void *)words);
    }
    int even[16], odd[16];
    rows8_fold_indices(even, odd);
    ix->rows_even = _mm512_loadu_si512((const void *)even);
    ix->rows_odd = _mm512_loadu_si512((const void *)odd);
}

// One group of eight rows × G tokens. Per block, for each half h and pair of 8-byte positions
// (k = 2j, 2j + 1): the qh chunk and two ql chunks give the four 6-bit vectors n_m of each k
// (elements 128h + 32m + 8k …, sub-block 8h + 2m + j); vpdpbusd of n_m and the activations
// (each dword four products, |·| ≤ 4·63·127 < 2¹⁵), vpackssdw of the two k, one vpdpwssd with the
// sub-block's scales. The −32 offset: Σ_s scale_s·bsums[s] by vpdpwssd of the scales and bsums
// placed in the first word of each row's dword, subtracted ×32 at the end (all exact in int32).
static inline __attribute__((always_inline)) void rows8_q6_group(const uint8_t *group, const moe_block_q8k *x, int blocks, const rows8_q6_indices *ix,
                                                                 float *y, size_t ldy, __mmask8 keep, const int G) {
    __m256 acc[MOE_ROWS8_MAX_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm256_setzero_ps();
    const __m512i nibble = _mm512_set1_epi8(0x0F), top = _mm512_set1_epi8(0x30);
    for (int b = 0; b < blocks; b++, group += ROWS8_BLOCK) {
        __m512i words[4];
        for (int k = 0; k < 2; k++) {
            const __m512i bytes = _mm512_loadu_si512((const void *)(group + ROWS8_SCALES + 64 * k));
            words[2 * k] = _mm512_cvtepi8_epi16(_mm512_castsi512_si256(bytes));
            words[2 * k + 1] = _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(bytes, 1));
        }
        __m512i total[MOE_ROWS8_MAX_GROUP], offset[MOE_ROWS8_MAX_GROUP];
        for (int t = 0; t < G; t++) total[t] = offset[t] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 2; j++) {
                __m512i n[2][4];
                for (int i = 0; i < 2; i++) {
                    const int k = 2 * j + i;
                    const __m512i qh = _mm512_loadu_si512((const void *)(group + qh_at(4 * h + k)));
                    const __m512i a = _mm512_loadu_si512((const void *)(group + ql_at(8 * h + k)));
                    const __m512i c = _mm512_loadu_si512((const void *)(group + ql_at(8 * h + k + 4)));
                    // 16-bit shifts; the masks drop what crossed from the neighbouring byte.
                    n[i][0] = _mm512_or_si512(_mm512_and_si512(a, nibble), _mm512_and_si512(_mm512_slli_epi16(qh, 4), top));
                    n[i][1] = _mm512_or_si512(_mm512_and_si512(c, nibble), _mm512_and_si512(_mm512_slli_epi16(qh, 2), top));
                    n[i][2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(a, 4), nibble), _mm512_and_si512(qh, top));
                    n[i][3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(c, 4), nibble), _mm512_and_si512(_mm512_srli_epi16(qh, 2), top));
                }
                for (int m = 0; m < 4; m++) {
                    const int s = 8 * h + 2 * m + j;
                    const __m512i scale = _mm512_permutexvar_epi16(ix->scale_words[s % 4], words[s / 4]);
                    for (int t = 0; t < G; t++) {
                        const moe_block_q8k *xb = x + (size_t)t * blocks + b;
                        const int8_t *xq = xb->qs + 128 * h + 32 * m + 16 * j;
                        const __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), n[0][m], rows8_broadcast8(xq));
                        const __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), n[1][m], rows8_broadcast8(xq + 8));
                        total[t] = _mm512_dpwssd_epi32(total[t], _mm512_packs_epi32(d0, d1), scale);
                        // bsums[s] in words 0 and 2 of each lane: dwords 0 and 1 (rows 2L, 2L + 1) take scale·bsums[s].
                        offset[t] = _mm512_dpwssd_epi32(offset[t], _mm512_maskz_set1_epi16(0x05050505, xb->bsums[s]), scale);
                    }
                }
            }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)group));
        for (int t = 0; t < G; t++) {
            const __m512i v = _mm512_sub_epi32(total[t], _mm512_slli_epi32(offset[t], 5));
            const __m512i rows = _mm512_add_epi32(_mm512_permutexvar_epi32(ix->rows_even, v), _mm512_permutexvar_epi32(ix->rows_odd, v));
            const float dx = x[(size_t)t * blocks + b].d;
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(dx)), _mm256_cvtepi32_ps(_mm512_castsi512_si256(rows)), acc[t]);
        }
    }
    for (int t = 0; t < G; t++) _mm256_mask_storeu_ps(y + (size_t)t * ldy, keep, acc[t]);
}

ROWS8_GROUP_ENTRY_POINTS(moe_matvec_q6_k_rows8_vnni, moe_matmul_q6_k_rows8_vnni, moe_block_q8k, 256, rows8_q6_indices, rows8_q6_indices_init, rows8_q6_group)

#pragma clang attribute pop

#else
ROWS8_AS_SCALAR(moe_matvec_q6_k_rows8_vnni, moe_matmul_q6_k_rows8_vnni, moe_block_q8k, moe_matvec_q6_k_rows8_scalar, moe_matmul_q6_k_rows8_scalar)
#endif
