// Q8_0 in rows8 groups (layout and arithmetic in q80_rows8.h): the packer, the scalar twin and the
// AVX-512 VNNI bodies.
#include "q80_rows8.h"
#include "half_float.h"
#include "rows8_common.h"

#include <math.h>
#include <string.h>

enum { Q8_0_BYTES = 34, ROWS8_BLOCK = 8 * Q8_0_BYTES, ROWS8_CHUNKS = 16 };

// ---- packing ----------------------------------------------------------------------------------
// The quants are stored + 128 (sign bit flipped): unsigned, as vpdpbusd's first operand must be.
void moe_q80_rows8_pack(const void *src, size_t row_bytes, int n, void *dst) {
    for (int b = 0; b < n / 32; b++) {
        uint8_t *out = (uint8_t *)dst + (size_t)b * ROWS8_BLOCK;
        for (int r = 0; r < 8; r++) {
            const uint8_t *block = (const uint8_t *)src + (size_t)r * row_bytes + (size_t)b * Q8_0_BYTES;
            memcpy(out + 2 * r, block, 2);
            for (int j = 0; j < 32; j++) out[ROWS8_CHUNKS + 64 * (j / 8) + 8 * r + j % 8] = block[2 + j] ^ 0x80;
        }
    }
}

void moe_q80_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst) {
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *in = (const uint8_t *)src + (size_t)b * ROWS8_BLOCK;
        for (int r = 0; r < 8; r++) {
            uint8_t *block = (uint8_t *)dst + (size_t)r * row_bytes + (size_t)b * Q8_0_BYTES;
            memcpy(block, in + 2 * r, 2);
            for (int j = 0; j < 32; j++) block[2 + j] = in[ROWS8_CHUNKS + 64 * (j / 8) + 8 * r + j % 8] ^ 0x80;
        }
    }
}

// ---- scalar twin --------------------------------------------------------------------------------
static float rows8_dot_scalar(const uint8_t *group, int lane, const moe_block_q8 *x, int blocks) {
    float acc[2] = {0, 0};
    for (int b = 0; b < blocks; b++, group += ROWS8_BLOCK) {
        int32_t half[2] = {-64 * x[b].sum, -64 * x[b].sum};
        for (int j = 0; j < 32; j++) half[(j % 8) / 4] += group[ROWS8_CHUNKS + 64 * (j / 8) + 8 * lane + j % 8] * x[b].qs[j];
        uint16_t h;
        memcpy(&h, group + 2 * lane, 2);
        const float scale = moe_half_bits_to_float(h) * x[b].d;
        for (int k = 0; k < 2; k++) acc[k] = fmaf((float)half[k], scale, acc[k]);
    }
    return acc[0] + acc[1];
}

ROWS8_SCALAR_ENTRY_POINTS(moe_matvec_q8_0_rows8_scalar, moe_matmul_q8_0_rows8_scalar, moe_block_q8, 32, rows8_dot_scalar)

// ---- AVX-512 VNNI -------------------------------------------------------------------------------
#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

#include "rows8_halves.h"

// One group of eight rows × G tokens: per block, the four chunks against the matching eight
// activations (four vpdpbusd into one (row, half) vector), minus 64·Σq, one fma.
static inline __attribute__((always_inline)) void rows8_q80_group(const uint8_t *group, const moe_block_q8 *x, int blocks,
                                                                  const rows8_halves_indices *ix, float *y, size_t ldy, __mmask8 keep, const int G) {
    __m512 acc[MOE_ROWS8_MAX_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++, group += ROWS8_BLOCK) {
        __m512i c[4];
        for (int k = 0; k < 4; k++) c[k] = _mm512_loadu_si512((const void *)(group + ROWS8_CHUNKS + 64 * k));
        const __m512 d = rows8_halves_scales(ix, group);
        for (int t = 0; t < G; t++) {
            const moe_block_q8 *xb = x + (size_t)t * blocks + b;
            __m512i s = _mm512_set1_epi32(-64 * xb->sum);
            for (int k = 0; k < 4; k++) s = _mm512_dpbusd_epi32(s, c[k], rows8_broadcast8(xb->qs + 8 * k));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_set1_ps(xb->d)), acc[t]);
        }
    }
    for (int t = 0; t < G; t++) rows8_halves_store(ix, acc[t], y + (size_t)t * ldy, keep);
}

ROWS8_GROUP_ENTRY_POINTS(moe_matvec_q8_0_rows8_vnni, moe_matmul_q8_0_rows8_vnni, moe_block_q8, 32, rows8_halves_indices, rows8_halves_indices_init, rows8_q80_group)

#pragma clang attribute pop

#else
ROWS8_AS_SCALAR(moe_matvec_q8_0_rows8_vnni, moe_matmul_q8_0_rows8_vnni, moe_block_q8, moe_matvec_q8_0_rows8_scalar, moe_matmul_q8_0_rows8_scalar)
#endif
