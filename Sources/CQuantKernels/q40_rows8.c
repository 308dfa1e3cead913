// Q4_0 in rows8 groups (layout and arithmetic in q40_rows8.h): the packer, the scalar twin and the
// AVX-512 VNNI bodies.
#include "q40_rows8.h"
#include "half_float.h"
#include "rows8_common.h"

#include <math.h>
#include <string.h>

enum { Q4_0_BYTES = 18, ROWS8_BLOCK = 8 * Q4_0_BYTES, ROWS8_CHUNKS = 16 };

// ---- packing ----------------------------------------------------------------------------------
void moe_q40_rows8_pack(const void *src, size_t row_bytes, int n, void *dst) {
    for (int b = 0; b < n / 32; b++) {
        uint8_t *out = (uint8_t *)dst + (size_t)b * ROWS8_BLOCK;
        for (int r = 0; r < 8; r++) {
            const uint8_t *block = (const uint8_t *)src + (size_t)r * row_bytes + (size_t)b * Q4_0_BYTES;
            memcpy(out + 2 * r, block, 2);
            for (int c = 0; c < 2; c++) memcpy(out + ROWS8_CHUNKS + 64 * c + 8 * r, block + 2 + 8 * c, 8);
        }
    }
}

void moe_q40_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst) {
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *in = (const uint8_t *)src + (size_t)b * ROWS8_BLOCK;
        for (int r = 0; r < 8; r++) {
            uint8_t *block = (uint8_t *)dst + (size_t)r * row_bytes + (size_t)b * Q4_0_BYTES;
            memcpy(block, in + 2 * r, 2);
            for (int c = 0; c < 2; c++) memcpy(block + 2 + 8 * c, in + ROWS8_CHUNKS + 64 * c + 8 * r, 8);
        }
    }
}

// ---- scalar twin --------------------------------------------------------------------------------
static float rows8_dot_scalar(const uint8_t *group, int lane, const moe_block_q8 *x, int blocks) {
    float acc[2] = {0, 0};
    for (int b = 0; b < blocks; b++, group += ROWS8_BLOCK) {
        int32_t half[2] = {-4 * x[b].sum, -4 * x[b].sum};
        for (int j = 0; j < 16; j++) {
            const uint8_t q = group[ROWS8_CHUNKS + 64 * (j / 8) + 8 * lane + j % 8];
            half[(j % 8) / 4] += (q & 15) * x[b].qs[j] + (q >> 4) * x[b].qs[j + 16];
        }
        uint16_t h;
        memcpy(&h, group + 2 * lane, 2);
        const float scale = moe_half_bits_to_float(h) * x[b].d;
        for (int k = 0; k < 2; k++) acc[k] = fmaf((float)half[k], scale, acc[k]);
    }
    return acc[0] + acc[1];
}

ROWS8_SCALAR_ENTRY_POINTS(moe_matvec_q4_0_rows8_scalar, moe_matmul_q4_0_rows8_scalar, moe_block_q8, 32, rows8_dot_scalar)

// ---- AVX-512 VNNI -------------------------------------------------------------------------------
#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

#include "rows8_halves.h"

// One group of eight rows × G tokens: per block, the two chunks' low and high nibbles against
// the matching eight activations (four vpdpbusd into one (row, half) vector), minus 4·Σq, one fma.
static inline __attribute__((always_inline)) void rows8_q40_group(const uint8_t *group, const moe_block_q8 *x, int blocks,
                                                                  const rows8_halves_indices *ix, float *y, size_t ldy, __mmask8 keep, const int G) {
    __m512 acc[MOE_ROWS8_MAX_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm512_setzero_ps();
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int b = 0; b < blocks; b++, group += ROWS8_BLOCK) {
        const __m512i c0 = _mm512_loadu_si512((const void *)(group + ROWS8_CHUNKS));
        const __m512i c1 = _mm512_loadu_si512((const void *)(group + ROWS8_CHUNKS + 64));
        const __m512i lo0 = _mm512_and_si512(c0, nibble), hi0 = _mm512_and_si512(_mm512_srli_epi16(c0, 4), nibble);
        const __m512i lo1 = _mm512_and_si512(c1, nibble), hi1 = _mm512_and_si512(_mm512_srli_epi16(c1, 4), nibble);
        const __m512 d = rows8_halves_scales(ix, group);
        for (int t = 0; t < G; t++) {
            const moe_block_q8 *xb = x + (size_t)t * blocks + b;
            __m512i s = _mm512_set1_epi32(-4 * xb->sum);
            s = _mm512_dpbusd_epi32(s, lo0, rows8_broadcast8(xb->qs));
            s = _mm512_dpbusd_epi32(s, lo1, rows8_broadcast8(xb->qs + 8));
            s = _mm512_dpbusd_epi32(s, hi0, rows8_broadcast8(xb->qs + 16));
            s = _mm512_dpbusd_epi32(s, hi1, rows8_broadcast8(xb->qs + 24));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_set1_ps(xb->d)), acc[t]);
        }
    }
    for (int t = 0; t < G; t++) rows8_halves_store(ix, acc[t], y + (size_t)t * ldy, keep);
}

ROWS8_GROUP_ENTRY_POINTS(moe_matvec_q4_0_rows8_vnni, moe_matmul_q4_0_rows8_vnni, moe_block_q8, 32, rows8_halves_indices, rows8_halves_indices_init, rows8_q40_group)

#pragma clang attribute pop

#else
ROWS8_AS_SCALAR(moe_matvec_q4_0_rows8_vnni, moe_matmul_q4_0_rows8_vnni, moe_block_q8, moe_matvec_q4_0_rows8_scalar, moe_matmul_q4_0_rows8_scalar)
#endif
