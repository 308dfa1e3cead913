// The kernels' bodies, included by quant_kernels.c (AVX2 where compiled for it) and by
// quant_kernels_scalar.c (always scalar, names suffixed _scalar, so the tests also hold the
// portable path to its twins on a machine that has AVX2). The includer defines MOE_AVX2 and
// MOE_FN(name). Every kernel has an AVX2 body and a scalar body computing the same integer sums.
// Block layouts are documented beside their Swift reference dequantisers
// (Sources/MoEKit/Tensors/Q8_0.swift, Q4_0.swift, Q4_K.swift, Q6_K.swift).
#include "quant_kernels.h"

#include <math.h>
#include <string.h>

#if MOE_AVX2
#include <immintrin.h>
#endif

int MOE_FN(moe_quant_kernels_simd)(void) { return MOE_AVX2; }

// Block byte sizes and field offsets (little-endian, packed).
enum {
    Q8_0_BYTES = 34,
    Q4_0_BYTES = 18,
    Q4_K_BYTES = 144, Q4_K_SCALES = 4, Q4_K_QS = 16,
    Q6_K_BYTES = 210, Q6_K_QH = 128, Q6_K_SCALES = 192, Q6_K_D = 208,
};

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

// f16 → f32, exact (every f16 is an f32).
static inline float half_to_float(uint16_t h) {
#if MOE_AVX2
    return _cvtsh_ss(h);
#else
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000 | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        exponent = 113;
        while (!(mantissa & 0x400)) { mantissa <<= 1; exponent--; }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
    }
    float f; memcpy(&f, &bits, 4); return f;
#endif
}

// Q4_K's 6-bit scale and min of sub-block j (layout in Q4_K.swift).
static inline void q4k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) { *sc = s[j] & 63; *m = s[j + 4] & 63; }
    else { *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4); *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4); }
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
    for (int b = 0; b < n / 32; b++) out[b].d = quantize_block(x + 32 * b, 32, out[b].qs);
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
static inline float hsum_float_8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

static inline int hsum_i32_8(__m256i x) {
    __m128i r = _mm_add_epi32(_mm256_extracti128_si256(x, 1), _mm256_castsi256_si128(x));
    r = _mm_add_epi32(r, _mm_unpackhi_epi64(r, r));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 1));
    return _mm_cvtsi128_si32(r);
}

// Σ x·y over 32 signed bytes as 8 int32 lanes. vpmaddubsw wants unsigned × signed, so x's sign
// moves onto y (|x|·sign(x)·y); pairs cannot saturate: 2·128·127 < 2¹⁵.
static inline __m256i dot_i8_pairs(__m256i x, __m256i y) {
    const __m256i dot = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(dot, _mm256_set1_epi16(1));
}
#endif

// ---- Q8_0 · q8 ----------------------------------------------------------------------------
static float dot_q8_0(const uint8_t *row, const moe_block_q8 *x, int blocks) {
#if MOE_AVX2
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++, row += Q8_0_BYTES) {
        const __m256i w = _mm256_loadu_si256((const __m256i *)(row + 2));
        const __m256i v = _mm256_loadu_si256((const __m256i *)x[b].qs);
        const __m256 scale = _mm256_set1_ps(half_to_float(load_u16(row)) * x[b].d);
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_i8_pairs(w, v)), acc);
    }
    return hsum_float_8(acc);
#else
    float sum = 0;
    for (int b = 0; b < blocks; b++, row += Q8_0_BYTES) {
        int s = 0;
        for (int i = 0; i < 32; i++) s += (int8_t)row[2 + i] * x[b].qs[i];
        sum += half_to_float(load_u16(row)) * x[b].d * (float)s;
    }
    return sum;
#endif
}

// ---- Q4_0 · q8 ----------------------------------------------------------------------------
static float dot_q4_0(const uint8_t *row, const moe_block_q8 *x, int blocks) {
#if MOE_AVX2
    __m256 acc = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
    for (int b = 0; b < blocks; b++, row += Q4_0_BYTES) {
        // Elements 0–15 are the low nibbles, 16–31 the high ones: one 128-bit lane each.
        const __m128i packed = _mm_loadu_si128((const __m128i *)(row + 2));
        __m256i w = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
        w = _mm256_sub_epi8(_mm256_and_si256(w, low4), eight);
        const __m256i v = _mm256_loadu_si256((const __m256i *)x[b].qs);
        const __m256 scale = _mm256_set1_ps(half_to_float(load_u16(row)) * x[b].d);
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot_i8_pairs(w, v)), acc);
    }
    return hsum_float_8(acc);
#else
    float sum = 0;
    for (int b = 0; b < blocks; b++, row += Q4_0_BYTES) {
        int s = 0;
        for (int i = 0; i < 16; i++) {
            s += ((row[2 + i] & 0x0F) - 8) * x[b].qs[i];
            s += ((row[2 + i] >> 4) - 8) * x[b].qs[i + 16];
        }
        sum += half_to_float(load_u16(row)) * x[b].d * (float)s;
    }
    return sum;
#endif
}

// ---- Q4_K · q8k ---------------------------------------------------------------------------
// Per block: d·dx·Σ_j sc_j·Σ_i n_i·q_i − dmin·dx·Σ_j m_j·(Σ_i q_i over sub-block j).
static float dot_q4_k(const uint8_t *row, const moe_block_q8k *x, int blocks) {
    float sum = 0;
#if MOE_AVX2
    __m256 acc = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F);
#endif
    for (int b = 0; b < blocks; b++, row += Q4_K_BYTES) {
        const float d = half_to_float(load_u16(row)) * x[b].d;
        const float dmin = half_to_float(load_u16(row + 2)) * x[b].d;
        int sc[8], m[8], offset = 0;
        for (int j = 0; j < 8; j++) {
            q4k_scale_min(row + Q4_K_SCALES, j, &sc[j], &m[j]);
            offset += m[j] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        const uint8_t *q = row + Q4_K_QS;
#if MOE_AVX2
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i packed = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            const __m256i lo = _mm256_and_si256(packed, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
            // n ≤ 15 unsigned × q signed: pairs ≤ 2·15·128, no saturation.
            const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * c)));
            const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * c + 32)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p0, _mm256_set1_epi16((short)sc[2 * c])));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p1, _mm256_set1_epi16((short)sc[2 * c + 1])));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
#else
        int isum = 0;
        for (int j = 0; j < 8; j++) {
            int s = 0;
            for (int i = 0; i < 32; i++) {
                const uint8_t byte = q[32 * (j / 2) + i];
                s += ((j % 2 == 0) ? (byte & 0x0F) : (byte >> 4)) * x[b].qs[32 * j + i];
            }
            isum += sc[j] * s;
        }
        sum += d * (float)isum;
#endif
        sum -= dmin * (float)offset;
    }
#if MOE_AVX2
    sum += hsum_float_8(acc);
#endif
    return sum;
}

// ---- Q6_K · q8k ---------------------------------------------------------------------------
// Per block: d·dx·Σ_s scale_s·(Σ_i n_i·q_i − 32·Σ_i q_i) over the 16 sub-blocks of 16.
static float dot_q6_k(const uint8_t *row, const moe_block_q8k *x, int blocks) {
    float sum = 0;
    for (int b = 0; b < blocks; b++, row += Q6_K_BYTES) {
        const uint8_t *ql = row, *qh = row + Q6_K_QH;
        const int8_t *scales = (const int8_t *)(row + Q6_K_SCALES);
        const float d = half_to_float(load_u16(row + Q6_K_D)) * x[b].d;
        int offset = 0;
        for (int s = 0; s < 16; s++) offset += scales[s] * x[b].bsums[s];
        int isum;
#if MOE_AVX2
        const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i high = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
            for (int k = 0; k < 4; k++) {
                __m256i low = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32 * (k % 2)));
                if (k >= 2) low = _mm256_srli_epi16(low, 4);
                low = _mm256_and_si256(low, low4);
                // The shifts are 16-bit, so mask each byte after shifting; (≤3)·16 stays in its byte.
                const __m256i top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2 * k), low2), 4);
                const __m256i n = _mm256_or_si256(low, top);
                const __m256i p = _mm256_maddubs_epi16(n, _mm256_loadu_si256((const __m256i *)(x[b].qs + 128 * h + 32 * k)));
                // The first 16 elements (8 int16 lanes, the low 128 bits) use one sub-block scale, the next 16 the next.
                const int s = 8 * h + 2 * k;
                const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(scales[s + 1]), _mm_set1_epi16(scales[s]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale));
            }
        }
        isum = hsum_i32_8(acc);
#else
        isum = 0;
        for (int i = 0; i < 256; i++) {
            const int h = i / 128, k = i % 128 / 32, l = i % 32;
            const int low = (ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0F;
            const int top = (qh[32 * h + l] >> (2 * k)) & 0x03;
            isum += scales[i / 16] * (low | top << 4) * x[b].qs[i];
        }
#endif
        sum += d * (float)(isum - 32 * offset);
    }
    return sum;
}

// ---- row loops ------------------------------------------------------------------------------
void MOE_FN(moe_matvec_q8_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q8_0((const uint8_t *)w + (size_t)r * row_bytes, x, n / 32);
}

void MOE_FN(moe_matvec_q4_0)(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q4_0((const uint8_t *)w + (size_t)r * row_bytes, x, n / 32);
}

void MOE_FN(moe_matvec_q4_k)(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q4_k((const uint8_t *)w + (size_t)r * row_bytes, x, n / 256);
}

void MOE_FN(moe_matvec_q6_k)(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) y[r] = dot_q6_k((const uint8_t *)w + (size_t)r * row_bytes, x, n / 256);
}
