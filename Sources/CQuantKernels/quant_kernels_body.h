// The kernels' bodies, included by quant_kernels.c (AVX2 where compiled for it) and by
// quant_kernels_scalar.c (always scalar, names suffixed _scalar, so the tests also hold the
// portable path to its twins on a machine that has AVX2). The includer defines MOE_AVX2 and
// MOE_FN(name). Every kernel has an AVX2 body and a scalar body computing the same integer sums.
// Block layouts are documented beside their Swift reference dequantisers
// (Sources/MoEKit/Tensors/Q8_0.swift, Q4_0.swift, Q5_0.swift, Q5_1.swift, Q4_K.swift, Q5_K.swift, Q6_K.swift).
#include "quant_kernels.h"
#include "half_float.h"
#include "q4k_scales.h"
#include "vector_sums.h"
#include "far_rows.h"

#include <math.h>
#include <string.h>

// a·b − c must stay two roundings (as in the Swift references and gguf-py), never one FMA.
#pragma STDC FP_CONTRACT OFF

#if MOE_AVX2
#include <immintrin.h>
#endif

int MOE_FN(moe_quant_kernels_simd)(void) { return MOE_AVX2; }

// Block byte sizes and field offsets (little-endian, packed).
enum {
    Q8_0_BYTES = 34,
    Q4_0_BYTES = 18,
    Q5_0_BYTES = 22,   // f16 d, uint32 qh (the fifth bits), 16 bytes of nibbles
    Q5_1_BYTES = 24,   // f16 d, f16 m, uint32 qh, 16 bytes of nibbles
    Q4_K_BYTES = 144, Q4_K_SCALES = 4, Q4_K_QS = 16,
    Q5_K_BYTES = 176, Q5_K_QH = 16, Q5_K_QS = 48,   // Q4_K's d, dmin and scales, then qh[32], qs[128]
    Q6_K_BYTES = 210, Q6_K_QH = 128, Q6_K_SCALES = 192, Q6_K_D = 208,
};

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

// f16 → f32, exact (every f16 is an f32).
static inline float half_to_float(uint16_t h) {
#if MOE_AVX2
    return _cvtsh_ss(h);
#else
    return moe_half_bits_to_float(h);
#endif
}

// ---- activation quantisation -------------------------------------------------------------

// One block of `count` activations: returns d, writes q. Round-half-even is what both the SIMD
// (_MM_FROUND_TO_NEAREST_INT) and scalar (nearbyintf in the default rounding mode) paths do.
static inline float quantize_block(const float *x, int count, int8_t *q) {
    float amax = 0;
#if MOE_AVX2
    __m256 vmax = _mm256_setzero_ps();
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < count; i += 8) vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    amax = _mm_cvtss_f32(m4);
#else
    for (int i = 0; i < count; i++) amax = fmaxf(amax, fabsf(x[i]));
#endif
    const float d = amax / 127;
    const float id = d != 0 ? 1 / d : 0;
#if MOE_AVX2
    const __m256 vid = _mm256_set1_ps(id);
    for (int i = 0; i < count; i += 32) {
        __m256i r[4];
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            r[k] = _mm256_cvtps_epi32(v);
        }
        // Pack 32 int32 → 32 int8; the packs interleave 128-bit lanes, the permute restores order.
        __m256i a = _mm256_packs_epi32(r[0], r[1]), b = _mm256_packs_epi32(r[2], r[3]);
        __m256i p = _mm256_packs_epi16(a, b);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + i), p);
    }
#else
    for (int i = 0; i < count; i++) q[i] = (int8_t)nearbyintf(x[i] * id);
#endif
    return d;
}

void MOE_FN(moe_quantize_q8)(const float *x, int n, moe_block_q8 *out) {
    for (int b = 0; b < n / 32; b++) {
        out[b].d = quantize_block(x + 32 * b, 32, out[b].qs);
        int sum = 0;
        for (int i = 0; i < 32; i++) sum += out[b].qs[i];
        out[b].sum = sum;
    }
}

void MOE_FN(moe_quantize_q8k)(const float *x, int n, moe_block_q8k *out) {
    for (int b = 0; b < n / 256; b++) {
        out[b].d = quantize_block(x + 256 * b, 256, out[b].qs);
        for (int s = 0; s < 16; s++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += out[b].qs[16 * s + i];
            out[b].bsums[s] = (int16_t)sum;
        }
    }
}

// ---- AVX2 helpers --------------------------------------------------------------------------
#if MOE_AVX2
// Σ x·y over 32 signed bytes as 8 int32 lanes. vpmaddubsw wants unsigned × signed, so x's sign
// moves onto y (|x|·sign(x)·y); pairs cannot saturate: 2·128·127 < 2¹⁵.
static inline __m256i dot_i8_pairs(__m256i x, __m256i y) {
    const __m256i dot = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(dot, _mm256_set1_epi16(1));
}
#endif

// ---- Q8_0, Q4_0 and Q5_0 · q8 --------------------------------------------------------------
// All are 32 signed weights and an f16 scale per block; only how the weights are stored differs
// (Q8_0: bytes; Q4_0: nibbles − 8, elements 0–15 the low nibbles, 16–31 the high ones; Q5_0: those
// nibbles plus a fifth bit from qh, − 16). The batched kernels (quant_matmul_body.h) unpack blocks
// with the same functions.
// Quant i (0…31) of a Q5_0/Q5_1 block: nibble i mod 16 of qs (low for i < 16) plus bit i of qh.
static inline int five_bit_quant(const uint8_t *qh_bytes, const uint8_t *qs, int i) {
    uint32_t qh;
    memcpy(&qh, qh_bytes, 4);
    const int nibble = i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4);
    return nibble | (int)((qh >> i) & 1) << 4;
}

#if MOE_AVX2
typedef __m256i q32_weights;

static inline q32_weights q8_0_weights(const uint8_t *block) {
    return _mm256_loadu_si256((const __m256i *)(block + 2));
}

static inline q32_weights q4_0_weights(const uint8_t *block) {
    // One 128-bit lane of low nibbles, one of high ones.
    const __m128i packed = _mm_loadu_si128((const __m128i *)(block + 2));
    const __m256i w = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_sub_epi8(_mm256_and_si256(w, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
}

// The 32 unsigned 5-bit quants of a Q5_0/Q5_1 block: Q4_0's nibble order (qs), then bit i of qh
// as 16 in byte i — each byte picks its qh byte (i / 8) by a shuffle and tests its own bit (i mod 8).
static inline __m256i five_bit_quants(const uint8_t *qh_bytes, const uint8_t *qs) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    const __m256i nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F));
    uint32_t qh;
    memcpy(&qh, qh_bytes, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_or_si256(nibbles, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
}

static inline q32_weights q5_0_weights(const uint8_t *block) {
    return _mm256_sub_epi8(five_bit_quants(block + 2, block + 6), _mm256_set1_epi8(16));
}

// One block's contribution, added to acc: (d_w·d_x)·Σ w·x.
static inline __m256 q32_block(const uint8_t *block, q32_weights w, const moe_block_q8 *x, __m256 acc) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)x->qs);
    const __m256 scale = _mm256_set1_ps(half_to_float(load_u16(block)) * x->d);
    return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_i8_pairs(w, v)), acc);
}
#else
typedef struct { int8_t q[32]; } q32_weights;

static inline q32_weights q8_0_weights(const uint8_t *block) {
    q32_weights w;
    memcpy(w.q, block + 2, 32);
    return w;
}

static inline q32_weights q4_0_weights(const uint8_t *block) {
    q32_weights w;
    for (int i = 0; i < 16; i++) { w.q[i] = (int8_t)((block[2 + i] & 0x0F) - 8); w.q[i + 16] = (int8_t)((block[2 + i] >> 4) - 8); }
    return w;
}

static inline q32_weights q5_0_weights(const uint8_t *block) {
    q32_weights w;
    for (int i = 0; i < 32; i++) w.q[i] = (int8_t)(five_bit_quant(block + 2, block + 6, i) - 16);
    return w;
}
#endif

// Σ over blocks of (d_w·d_x)·Σ w·x; `weights` is q8_0_weights, q4_0_weights or q5_0_weights (inlined, since
// every caller passes a constant).
static inline __attribute__((always_inline)) float dot_q32(const uint8_t *row, int block_bytes, q32_weights (*weights)(const uint8_t *),
                                                           const moe_block_q8 *x, int blocks) {
#if MOE_AVX2
    // Two accumulators, so consecutive blocks' multiply-adds do not wait on each other.
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int b = 0;
    for (; b + 1 < blocks; b += 2) {
        const uint8_t *even = row + (size_t)b * block_bytes, *odd = even + block_bytes;
        acc0 = q32_block(even, weights(even), x + b, acc0);
        acc1 = q32_block(odd, weights(odd), x + b + 1, acc1);
    }
    if (b < blocks) acc0 = q32_block(row + (size_t)b * block_bytes, weights(row + (size_t)b * block_bytes), x + b, acc0);
    return moe_hsum8(_mm256_add_ps(acc0, acc1));
#else
    float sum = 0;
    for (int b = 0; b < blocks; b++, row += block_bytes) {
        const q32_weights w = weights(row);
        int s = 0;
        for (int i = 0; i < 32; i++) s += w.q[i] * x[b].qs[i];
        sum += half_to_float(load_u16(row)) * x[b].d * (float)s;
    }
    return sum;
#endif
}

static inline float dot_q8_0(const uint8_t *row, const moe_block_q8 *x, int blocks) { return dot_q32(row, Q8_0_BYTES, q8_0_weights, x, blocks); }
static inline float dot_q4_0(const uint8_t *row, const moe_block_q8 *x, int blocks) { return dot_q32(row, Q4_0_BYTES, q4_0_weights, x, blocks); }
static inline float dot_q5_0(const uint8_t *row, const moe_block_q8 *x, int blocks) { return dot_q32(row, Q5_0_BYTES, q5_0_weights, x, blocks); }

// ---- Q5_1 · q8 ------------------------------------------------------------------------------
// 32 unsigned 5-bit quants n with a scale d and an offset m per block (value d·n + m):
//   Σ (d·n_i + m)(dx·q_i) = (d·dx)·Σ n_i q_i + (m·dx)·Σ q_i,
// the second sum being the activation block's `sum`. (llama.cpp's Q5_K fallback for rows that are
// not whole 256-blocks: DeepSeek's 128-wide attn_k_b in Q5_K_M files.)
static float dot_q5_1(const uint8_t *row, const moe_block_q8 *x, int blocks) {
    float offsets = 0;
#if MOE_AVX2
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++, row += Q5_1_BYTES) {
        const __m256i n = five_bit_quants(row + 4, row + 8);   // ≤ 31 unsigned × signed: no saturation
        const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(n, _mm256_loadu_si256((const __m256i *)x[b].qs)), _mm256_set1_epi16(1));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(load_u16(row)) * x[b].d), _mm256_cvtepi32_ps(dot), acc);
        offsets += half_to_float(load_u16(row + 2)) * x[b].d * (float)x[b].sum;
    }
    return moe_hsum8(acc) + offsets;
#else
    float sum = 0;
    for (int b = 0; b < blocks; b++, row += Q5_1_BYTES) {
        int s = 0;
        for (int i = 0; i < 32; i++) s += five_bit_quant(row + 4, row + 8, i) * x[b].qs[i];
        sum += half_to_float(load_u16(row)) * x[b].d * (float)s;
        offsets += half_to_float(load_u16(row + 2)) * x[b].d * (float)x[b].sum;
    }
    return sum + offsets;
#endif
}

// ---- Q4_K and Q5_K · q8k ---------------------------------------------------------------------
// Per block: d·dx·Σ_j sc_j·Σ_i n_i·q_i − dmin·dx·Σ_j m_j·(Σ_i q_i over sub-block j).
// Q5_K is Q4_K with a fifth bit: n = nibble + 16·(bit j of qh[i mod 32]) for element i of
// sub-block j, its nibbles and scales where Q4_K has them, 32 bytes later (after qh).

// q4k_unpack_scales: q4k_scales.h.

#if MOE_AVX2
// Chunk c (sub-blocks 2c, 2c + 1) of a Q4_K/Q5_K block as unsigned quants: *lo and *hi get the
// low and high nibbles, plus, for Q5_K (`qh` not NULL), bits 2c and 2c + 1 of qh as 16.
// Shared with the batched kernel (quant_matmul_body.h).
static inline void kx_chunk(const uint8_t *q, const uint8_t *qh, int c, __m256i *lo, __m256i *hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i packed = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
    *lo = _mm256_and_si256(packed, low4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
    if (qh) {
        // The 16-bit shifts move bits across bytes; the mask keeps each byte's own bit.
        const __m256i bits = _mm256_loadu_si256((const __m256i *)qh), one = _mm256_set1_epi8(1);
        *lo = _mm256_or_si256(*lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * c), one), 4));
        *hi = _mm256_or_si256(*hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * c + 1), one), 4));
    }
}
#endif

// Element i of sub-block j of a Q4_K/Q5_K block (q: the nibbles, qh: Q5_K's fifth bits or NULL).
static inline int kx_quant(const uint8_t *q, const uint8_t *qh, int j, int i) {
    const uint8_t byte = q[32 * (j / 2) + i];
    const int nibble = (j % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
    return qh ? nibble | ((qh[i] >> j) & 1) << 4 : nibble;
}

static inline __attribute__((always_inline)) float dot_kx(const uint8_t *row, const moe_block_q8k *x, int blocks, const int five) {
    const int block_bytes = five ? Q5_K_BYTES : Q4_K_BYTES, qs = five ? Q5_K_QS : Q4_K_QS;
#if MOE_AVX2
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int b = 0; b < blocks; b++, row += block_bytes) {
        // 8 KiB ahead, past the 4 KiB pages the hardware prefetchers stop at (see quant_kernels_vnni.c).
        _mm_prefetch((const char *)(row + 8192), _MM_HINT_T0);
        _mm_prefetch((const char *)(row + 8192 + 64), _MM_HINT_T0);
        uint8_t sc[8], m[8];
        q4k_unpack_scales(row + Q4_K_SCALES, sc, m);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i lo, hi;
            kx_chunk(row + qs, five ? row + Q5_K_QH : NULL, c, &lo, &hi);
            // n ≤ 31 unsigned × q signed: pairs ≤ 2·31·128, no saturation.
            const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * c)));
            const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * c + 32)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c])));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(load_u16(row)) * x[b].d), _mm256_cvtepi32_ps(isum), acc);
        // Σ_j m_j·(bsums[2j] + bsums[2j+1]): pairwise sums, then one multiply-add of 8 int16.
        const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)x[b].bsums), _mm_loadu_si128((const __m128i *)(x[b].bsums + 8)));
        const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m));
        acc_min = _mm_fmadd_ps(_mm_set1_ps(half_to_float(load_u16(row + 2)) * x[b].d), _mm_cvtepi32_ps(_mm_madd_epi16(mins, pairs)), acc_min);
    }
    return moe_hsum8(acc) - moe_hsum4(acc_min);
#else
    float sum = 0;
    for (int b = 0; b < blocks; b++, row += block_bytes) {
        uint8_t sc[8], m[8];
        q4k_unpack_scales(row + Q4_K_SCALES, sc, m);
        int isum = 0, offset = 0;
        for (int j = 0; j < 8; j++) {
            int s = 0;
            for (int i = 0; i < 32; i++) s += kx_quant(row + qs, five ? row + Q5_K_QH : NULL, j, i) * x[b].qs[32 * j + i];
            isum += sc[j] * s;
            offset += m[j] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        sum += half_to_float(load_u16(row)) * x[b].d * (float)isum - half_to_float(load_u16(row + 2)) * x[b].d * (float)offset;
    }
    return sum;
#endif
}

static float dot_q4_k(const uint8_t *row, const moe_block_q8k *x, int blocks) { return dot_kx(row, x, blocks, 0); }
static float dot_q5_k(const uint8_t *row, const moe_block_q8k *x, int blocks) { return dot_kx(row, x, blocks, 1); }

// ---- Q6_K · q8k ---------------------------------------------------------------------------
// Per block: d·dx·Σ_s scale_s·(Σ_i n_i·q_i − 32·Σ_i q_i) over the 16 sub-blocks of 16.
#if MOE_AVX2
// Shuffles picking, from 8 int16 scales broadcast to both 128-bit lanes, scale 2k into every
// int16 of the low lane and scale 2k+1 into every int16 of the high lane (quarter k of a half).
static const uint8_t q6k_scale_shuffle[4][32] = {
#define PAIR(i) (2 * (i)), (2 * (i) + 1)
#define LANE(i) PAIR(i), PAIR(i), PAIR(i), PAIR(i), PAIR(i), PAIR(i), PAIR(i), PAIR(i)
    {LANE(0), LANE(1)}, {LANE(2), LANE(3)}, {LANE(4), LANE(5)}, {LANE(6), LANE(7)},
#undef LANE
#undef PAIR
};

// Quarter k of half h of a block as unsigned 6-bit quants n = low 4 bits (ql) | 2 high bits (qh)
// << 4; `high` is the half's 32 qh bytes. Shared with the batched kernel (quant_matmul_body.h).
static inline __m256i q6k_quants(const uint8_t *ql, __m256i high, int h, int k) {
    __m256i low = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32 * (k % 2)));
    if (k >= 2) low = _mm256_srli_epi16(low, 4);
    low = _mm256_and_si256(low, _mm256_set1_epi8(0x0F));
    // The shifts are 16-bit, so mask each byte after shifting; (≤3)·16 stays in its byte.
    const __m256i top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2 * k), _mm256_set1_epi8(0x03)), 4);
    return _mm256_or_si256(low, top);
}
#endif

static float dot_q6_k(const uint8_t *row, const moe_block_q8k *x, int blocks) {
#if MOE_AVX2
    __m256 accf = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++, row += Q6_K_BYTES) {
        const uint8_t *ql = row, *qh = row + Q6_K_QH;
        const __m128i scales8 = _mm_loadu_si128((const __m128i *)(row + Q6_K_SCALES));
        // −32·Σ_s scale_s·bsums[s], folded into the integer sum up front.
        const __m256i scales16 = _mm256_cvtepi8_epi16(scales8);
        __m256i acc = _mm256_slli_epi32(_mm256_madd_epi16(scales16, _mm256_loadu_si256((const __m256i *)x[b].bsums)), 5);
        acc = _mm256_sub_epi32(_mm256_setzero_si256(), acc);
        for (int h = 0; h < 2; h++) {
            const __m256i high = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
            const __m256i half_scales = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(h == 0 ? scales8 : _mm_srli_si128(scales8, 8)));
            for (int k = 0; k < 4; k++) {
                const __m256i n = q6k_quants(ql, high, h, k);
                const __m256i p = _mm256_maddubs_epi16(n, _mm256_loadu_si256((const __m256i *)(x[b].qs + 128 * h + 32 * k)));
                const __m256i scale = _mm256_shuffle_epi8(half_scales, _mm256_loadu_si256((const __m256i *)q6k_scale_shuffle[k]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale));
            }
        }
        accf = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(load_u16(row + Q6_K_D)) * x[b].d), _mm256_cvtepi32_ps(acc), accf);
    }
    return moe_hsum8(accf);
#else
    float sum = 0;
    for (int b = 0; b < blocks; b++, row += Q6_K_BYTES) {
        const uint8_t *ql = row, *qh = row + Q6_K_QH;
        const int8_t *scales = (const int8_t *)(row + Q6_K_SCALES);
        int isum = 0;
        for (int s = 0; s < 16; s++) isum -= 32 * scales[s] * x[b].bsums[s];
        for (int i = 0; i < 256; i++) {
            const int h = i / 128, k = i % 128 / 32, l = i % 32;
            const int low = (ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0F;
            const int top = (qh[32 * h + l] >> (2 * k)) & 0x03;
            isum += scales[i / 16] * (low | top << 4) * x[b].qs[i];
        }
        sum += half_to_float(load_u16(row + Q6_K_D)) * x[b].d * (float)isum;
    }
    return sum;
#endif
}

// ---- dequantisation (the batched prompt path widens tiles for sgemm) ----------------------
// Same f32 operations in the same order as the Swift reference dequantisers, written as
// separate multiplies and subtractions (intrinsics are never contracted into FMAs), so the output
// is bit-identical to theirs and to gguf-py's.

void MOE_FN(moe_dequantize_q8_0)(const void *src, float *out, int n) {
    const uint8_t *block = src;
    for (int b = 0; b < n / 32; b++, block += Q8_0_BYTES, out += 32) {
        const float d = half_to_float(load_u16(block));
#if MOE_AVX2
        const __m256 vd = _mm256_set1_ps(d);
        for (int i = 0; i < 32; i += 8) {
            const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(block + 2 + i)));
            _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(q), vd));
        }
#else
        for (int i = 0; i < 32; i++) out[i] = (float)(int8_t)block[2 + i] * d;
#endif
    }
}

void MOE_FN(moe_dequantize_q4_0)(const void *src, float *out, int n) {
    const uint8_t *block = src;
    for (int b = 0; b < n / 32; b++, block += Q4_0_BYTES, out += 32) {
        const float d = half_to_float(load_u16(block));
#if MOE_AVX2
        const __m256 vd = _mm256_set1_ps(d);
        for (int i = 0; i < 16; i += 8) {
            const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(block + 2 + i)));
            const __m256i low = _mm256_sub_epi32(_mm256_and_si256(bytes, _mm256_set1_epi32(0x0F)), _mm256_set1_epi32(8));
            const __m256i high = _mm256_sub_epi32(_mm256_srli_epi32(bytes, 4), _mm256_set1_epi32(8));
            _mm256_storeu_ps(out + i, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(low)));
            _mm256_storeu_ps(out + 16 + i, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(high)));
        }
#else
        for (int i = 0; i < 16; i++) {
            out[i] = d * (float)((block[2 + i] & 0x0F) - 8);
            out[i + 16] = d * (float)((block[2 + i] >> 4) - 8);
        }
#endif
    }
}

void MOE_FN(moe_dequantize_q5_0)(const void *src, float *out, int n) {
    const uint8_t *block = src;
    for (int b = 0; b < n / 32; b++, block += Q5_0_BYTES, out += 32) {
        const float d = half_to_float(load_u16(block));
        const q32_weights w = q5_0_weights(block);
        int8_t q[32];
        memcpy(q, &w, 32);
        for (int i = 0; i < 32; i++) out[i] = d * (float)q[i];
    }
}

void MOE_FN(moe_dequantize_q5_1)(const void *src, float *out, int n) {
    const uint8_t *block = src;
    for (int b = 0; b < n / 32; b++, block += Q5_1_BYTES, out += 32) {
        const float d = half_to_float(load_u16(block)), m = half_to_float(load_u16(block + 2));
        for (int i = 0; i < 32; i++) out[i] = d * (float)five_bit_quant(block + 4, block + 8, i) + m;
    }
}

static inline __attribute__((always_inline)) void dequantize_kx(const void *src, float *out, int n, const int five) {
    const uint8_t *block = src;
    const int block_bytes = five ? Q5_K_BYTES : Q4_K_BYTES, qs = five ? Q5_K_QS : Q4_K_QS;
    for (int b = 0; b < n / 256; b++, block += block_bytes, out += 256) {
        const float d = half_to_float(load_u16(block)), dmin = half_to_float(load_u16(block + 2));
        uint8_t sc[8], m[8];
        q4k_unpack_scales(block + Q4_K_SCALES, sc, m);
        const uint8_t *q = block + qs, *qh = five ? block + Q5_K_QH : NULL;
        for (int j = 0; j < 8; j++) {
            const float scale = d * (float)sc[j], offset = dmin * (float)m[j];
            float *o = out + 32 * j;
#if MOE_AVX2
            const uint8_t *chunk = q + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            const __m256 vs = _mm256_set1_ps(scale), vo = _mm256_set1_ps(offset);
            for (int i = 0; i < 32; i += 8) {
                const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(chunk + i)));
                __m256i n5 = _mm256_and_si256(_mm256_srli_epi32(bytes, shift), _mm256_set1_epi32(0x0F));
                if (qh) {
                    const __m256i high = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qh + i)));
                    n5 = _mm256_or_si256(n5, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(high, j), _mm256_set1_epi32(1)), 4));
                }
                _mm256_storeu_ps(o + i, _mm256_sub_ps(_mm256_mul_ps(vs, _mm256_cvtepi32_ps(n5)), vo));
            }
#else
            for (int i = 0; i < 32; i++) o[i] = scale * (float)kx_quant(q, qh, j, i) - offset;
#endif
        }
    }
}

void MOE_FN(moe_dequantize_q4_k)(const void *src, float *out, int n) { dequantize_kx(src, out, n, 0); }
void MOE_FN(moe_dequantize_q5_k)(const void *src, float *out, int n) { dequantize_kx(src, out, n, 1); }

void MOE_FN(moe_dequantize_q6_k)(const void *src, float *out, int n) {
    const uint8_t *block = src;
    for (int b = 0; b < n / 256; b++, block += Q6_K_BYTES, out += 256) {
        const float d = half_to_float(load_u16(block + Q6_K_D));
        const int8_t *scales = (const int8_t *)(block + Q6_K_SCALES);
        for (int i = 0; i < 256; i++) {
            const int h = i / 128, k = i % 128 / 32, l = i % 32;
            const int low = (block[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0F;
            const int top = (block[Q6_K_QH + 32 * h + l] >> (2 * k)) & 0x03;
            out[i] = d * (float)scales[i / 16] * (float)((low | top << 4) - 32);
        }
    }
}

// ---- row loops ------------------------------------------------------------------------------
#if MOE_AVX2
// Q8_0, Q4_0 and Q5_0 rows several at a time, far apart: one row at a time is one sequential
// stream per core, too few lines in flight on an AVX2-only Zen 3 (see element_kernels.c,
// AVX2_ROWS). Each row is summed exactly as dot_q32 sums it (its two accumulators, the same
// order, the same reduction), so the bits do not change. Q4_K, Q5_K and Q6_K stay one row at a
// time: the same four far rows for them measured 0.85x (Q4_K), 0.77x (Q5_K) and 1.05x (Q6_K) of
// one row at the 1.1 B Mixtral's expert shape (BENCHMARKS.md "AVX2-only CPUs", tried and not
// kept; why was not profiled — a K-quant block is far more work per byte than a Q8_0 one).
#define Q32_ROWS 4

static inline __attribute__((always_inline)) void q32_rows(const uint8_t *const *rows, int block_bytes, q32_weights (*weights)(const uint8_t *),
                                                           const moe_block_q8 *x, int blocks, float *const *out, const int S) {
    __m256 acc0[Q32_ROWS], acc1[Q32_ROWS];
    for (int j = 0; j < S; j++) acc0[j] = acc1[j] = _mm256_setzero_ps();
    int b = 0;
    for (; b + 1 < blocks; b += 2) {
        for (int j = 0; j < S; j++) {
            const uint8_t *even = rows[j] + (size_t)b * block_bytes, *odd = even + block_bytes;
            acc0[j] = q32_block(even, weights(even), x + b, acc0[j]);
            acc1[j] = q32_block(odd, weights(odd), x + b + 1, acc1[j]);
        }
    }
    for (int j = 0; j < S; j++) {
        if (b < blocks) acc0[j] = q32_block(rows[j] + (size_t)b * block_bytes, weights(rows[j] + (size_t)b * block_bytes), x + b, acc0[j]);
        *out[j] = moe_hsum8(_mm256_add_ps(acc0[j], acc1[j]));
    }
}

static inline __attribute__((always_inline)) void matvec_q32(const void *w, size_t row_bytes, int block_bytes, q32_weights (*weights)(const uint8_t *),
                                                             const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    MOE_FAR_ROWS(Q32_ROWS, q32_rows(far_rows, block_bytes, weights, x, n / 32, far_out, far_count));
}

void MOE_FN(moe_matvec_q8_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    matvec_q32(w, row_bytes, Q8_0_BYTES, q8_0_weights, x, n, y, row_begin, row_end);
}

void MOE_FN(moe_matvec_q4_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    matvec_q32(w, row_bytes, Q4_0_BYTES, q4_0_weights, x, n, y, row_begin, row_end);
}

void MOE_FN(moe_matvec_q5_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    matvec_q32(w, row_bytes, Q5_0_BYTES, q5_0_weights, x, n, y, row_begin, row_end);
}
#else
void MOE_FN(moe_matvec_q8_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q8_0((const uint8_t *)w + (size_t)r * row_bytes, x, n / 32);
}

void MOE_FN(moe_matvec_q4_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q4_0((const uint8_t *)w + (size_t)r * row_bytes, x, n / 32);
}

void MOE_FN(moe_matvec_q5_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q5_0((const uint8_t *)w + (size_t)r * row_bytes, x, n / 32);
}
#endif

void MOE_FN(moe_matvec_q5_1)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q5_1((const uint8_t *)w + (size_t)r * row_bytes, x, n / 32);
}

void MOE_FN(moe_matvec_q4_k)(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q4_k((const uint8_t *)w + (size_t)r * row_bytes, x, n / 256);
}

void MOE_FN(moe_matvec_q5_k)(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q5_k((const uint8_t *)w + (size_t)r * row_bytes, x, n / 256);
}

void MOE_FN(moe_matvec_q6_k)(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q6_k((const uint8_t *)w + (size_t)r * row_bytes, x, n / 256);
}
