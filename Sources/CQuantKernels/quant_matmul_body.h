// The batched kernels' bodies (quant_matmul.h), included after quant_kernels_body.h by
// quant_kernels.c (AVX2 where compiled for it) and quant_kernels_scalar.c (scalar, _scalar names):
// they reuse its helpers, and each group function repeats its matvec twin's per-block arithmetic
// for G tokens with the weight block unpacked once. Kept bit-identical on purpose: same integer
// lane sums (integers are exact, so only the lanes' contents matter, not the order of the adds),
// same float products and multiply-adds, same accumulators, same final horizontal sums.
#include "quant_matmul.h"
#include "quant_matmul_driver.h"

#define MOE_GROUP_FN static inline __attribute__((always_inline)) void

#if MOE_AVX2
// products[4b + t] = d_w·d_x of block b and token t: the matvec's float products, formed four at a
// time before the row's dot products (which then broadcast them straight from memory).
static inline void block_scales(const uint8_t *row, int block_bytes, int blocks, const float *scales, float *products) {
    for (int b = 0; b < blocks; b++)
        _mm_storeu_ps(products + 4 * b, _mm_mul_ps(_mm_set1_ps(half_to_float(load_u16(row + (size_t)b * block_bytes))), _mm_loadu_ps(scales + 4 * b)));
}
#endif

// ---- Q8_0, Q4_0 and Q5_0 --------------------------------------------------------------------------
#if MOE_AVX2
// Block b for G tokens into acc[t]: dot_q32's q32_block with |w| shared and the scales formed
// beforehand (block_scales).
#define Q32_STEP(b, acc)                                                                          \
    do {                                                                                          \
        const __m256i wv = weights(row + (size_t)(b) * block_bytes);                              \
        const __m256i aw = _mm256_sign_epi8(wv, wv);                                              \
        for (int t = 0; t < G; t++) {                                                             \
            const __m256i v = _mm256_loadu_si256((const __m256i *)x[(size_t)t * blocks + (b)].qs); \
            const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(v, wv)), _mm256_set1_epi16(1)); \
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(products[4 * (b) + t]), _mm256_cvtepi32_ps(dot), acc[t]); \
        }                                                                                         \
    } while (0)
#endif

// One row × G tokens of a 32-element format; `weights` (q8_0_weights, q4_0_weights, q5_0_weights) is a
// constant at each call, so it is inlined.
MOE_GROUP_FN q32_group(const uint8_t *row, int block_bytes, q32_weights (*weights)(const uint8_t *),
                       const moe_block_q8 *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
#if MOE_AVX2
    float products[4 * blocks + 4]; // + 4: never a zero-length array
    block_scales(row, block_bytes, blocks, scales, products);
    __m256 acc0[MOE_MATMUL_GROUP], acc1[MOE_MATMUL_GROUP];
    for (int t = 0; t < G; t++) acc0[t] = acc1[t] = _mm256_setzero_ps();
    int b = 0;
    for (; b + 1 < blocks; b += 2) {
        Q32_STEP(b, acc0);
        Q32_STEP(b + 1, acc1);
    }
    if (b < blocks) Q32_STEP(b, acc0);
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = moe_hsum8(_mm256_add_ps(acc0[t], acc1[t]));
#else
    (void)scales;   // the scalar body forms each product as its matvec twin does
    float sum[MOE_MATMUL_GROUP] = {0};
    for (int b = 0; b < blocks; b++, row += block_bytes) {
        const float wd = half_to_float(load_u16(row));
        const q32_weights w = weights(row);
        for (int t = 0; t < G; t++) {
            const moe_block_q8 *xb = x + (size_t)t * blocks + b;
            int s = 0;
            for (int i = 0; i < 32; i++) s += w.q[i] * xb->qs[i];
            sum[t] += wd * xb->d * (float)s;
        }
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = sum[t];
#endif
}

MOE_GROUP_FN q8_0_group(const uint8_t *row, const moe_block_q8 *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
    q32_group(row, Q8_0_BYTES, q8_0_weights, x, blocks, scales, y, ldy, G);
}

MOE_GROUP_FN q4_0_group(const uint8_t *row, const moe_block_q8 *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
    q32_group(row, Q4_0_BYTES, q4_0_weights, x, blocks, scales, y, ldy, G);
}

MOE_GROUP_FN q5_0_group(const uint8_t *row, const moe_block_q8 *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
    q32_group(row, Q5_0_BYTES, q5_0_weights, x, blocks, scales, y, ldy, G);
}

// ---- Q4_K and Q5_K ------------------------------------------------------------------------------
MOE_GROUP_FN kx_group(const uint8_t *row, const moe_block_q8k *x, int blocks, float *y, size_t ldy, const int G, const int five) {
    const int block_bytes = five ? Q5_K_BYTES : Q4_K_BYTES, qs = five ? Q5_K_QS : Q4_K_QS;
#if MOE_AVX2
    __m256 acc[MOE_MATMUL_GROUP];
    __m128 acc_min[MOE_MATMUL_GROUP];
    for (int t = 0; t < G; t++) { acc[t] = _mm256_setzero_ps(); acc_min[t] = _mm_setzero_ps(); }
    for (int b = 0; b < blocks; b++, row += block_bytes) {
        uint8_t sc[8], m[8];
        q4k_unpack_scales(row + Q4_K_SCALES, sc, m);
        __m256i isum[MOE_MATMUL_GROUP];
        for (int t = 0; t < G; t++) isum[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i lo, hi;
            kx_chunk(row + qs, five ? row + Q5_K_QH : NULL, c, &lo, &hi);
            const __m256i sc_lo = _mm256_set1_epi16(sc[2 * c]), sc_hi = _mm256_set1_epi16(sc[2 * c + 1]);
            for (int t = 0; t < G; t++) {
                const int8_t *xq = x[(size_t)t * blocks + b].qs + 64 * c;
                const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)xq));
                const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xq + 32)));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(p0, sc_lo), _mm256_madd_epi16(p1, sc_hi)));
            }
        }
        const __m256 d = _mm256_set1_ps(half_to_float(load_u16(row)));
        const __m128 dmin = _mm_set1_ps(half_to_float(load_u16(row + 2)));
        const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m));
        for (int t = 0; t < G; t++) {
            const moe_block_q8k *xb = x + (size_t)t * blocks + b;
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(xb->d)), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums), _mm_loadu_si128((const __m128i *)(xb->bsums + 8)));
            acc_min[t] = _mm_fmadd_ps(_mm_mul_ps(dmin, _mm_set1_ps(xb->d)), _mm_cvtepi32_ps(_mm_madd_epi16(mins, pairs)), acc_min[t]);
        }
    }
    for (int t = 0; t < G; t++) {
        y[(size_t)t * ldy] = moe_hsum8(acc[t]) - moe_hsum4(acc_min[t]);
    }
#else
    float sum[MOE_MATMUL_GROUP] = {0};
    for (int b = 0; b < blocks; b++, row += block_bytes) {
        uint8_t sc[8], m[8];
        q4k_unpack_scales(row + Q4_K_SCALES, sc, m);
        uint8_t quants[256];
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 32; i++) quants[32 * j + i] = (uint8_t)kx_quant(row + qs, five ? row + Q5_K_QH : NULL, j, i);
        const float d = half_to_float(load_u16(row)), dmin = half_to_float(load_u16(row + 2));
        for (int t = 0; t < G; t++) {
            const moe_block_q8k *xb = x + (size_t)t * blocks + b;
            int isum = 0, offset = 0;
            for (int j = 0; j < 8; j++) {
                int s = 0;
                for (int i = 0; i < 32; i++) s += quants[32 * j + i] * xb->qs[32 * j + i];
                isum += sc[j] * s;
                offset += m[j] * (xb->bsums[2 * j] + xb->bsums[2 * j + 1]);
            }
            sum[t] += d * xb->d * (float)isum - dmin * xb->d * (float)offset;
        }
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = sum[t];
#endif
}

// One float multiply-add per 256 elements: not worth gathering the scales, so `scales` goes unused.
MOE_GROUP_FN q4_k_group(const uint8_t *row, const moe_block_q8k *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
    (void)scales;
    kx_group(row, x, blocks, y, ldy, G, 0);
}
MOE_GROUP_FN q5_k_group(const uint8_t *row, const moe_block_q8k *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
    (void)scales;
    kx_group(row, x, blocks, y, ldy, G, 1);
}

// ---- Q6_K ---------------------------------------------------------------------------------------
MOE_GROUP_FN q6_k_group(const uint8_t *row, const moe_block_q8k *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
    (void)scales;   // one float multiply-add per 256 elements: not worth gathering the scales
#if MOE_AVX2
    __m256 accf[MOE_MATMUL_GROUP];
    for (int t = 0; t < G; t++) accf[t] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++, row += Q6_K_BYTES) {
        const uint8_t *ql = row, *qh = row + Q6_K_QH;
        const __m128i scales8 = _mm_loadu_si128((const __m128i *)(row + Q6_K_SCALES));
        const __m256i scales16 = _mm256_cvtepi8_epi16(scales8);
        __m256i acc[MOE_MATMUL_GROUP];
        // −32·Σ_s scale_s·bsums[s], as in dot_q6_k.
        for (int t = 0; t < G; t++) {
            const __m256i offset = _mm256_madd_epi16(scales16, _mm256_loadu_si256((const __m256i *)x[(size_t)t * blocks + b].bsums));
            acc[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
        }
        for (int h = 0; h < 2; h++) {
            const __m256i high = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
            const __m256i half_scales = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(h == 0 ? scales8 : _mm_srli_si128(scales8, 8)));
            for (int k = 0; k < 4; k++) {
                const __m256i nq = q6k_quants(ql, high, h, k);
                const __m256i scale = _mm256_shuffle_epi8(half_scales, _mm256_loadu_si256((const __m256i *)q6k_scale_shuffle[k]));
                for (int t = 0; t < G; t++) {
                    const __m256i p = _mm256_maddubs_epi16(nq, _mm256_loadu_si256((const __m256i *)(x[(size_t)t * blocks + b].qs + 128 * h + 32 * k)));
                    acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(p, scale));
                }
            }
        }
        const __m256 d = _mm256_set1_ps(half_to_float(load_u16(row + Q6_K_D)));
        for (int t = 0; t < G; t++)
            accf[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[(size_t)t * blocks + b].d)), _mm256_cvtepi32_ps(acc[t]), accf[t]);
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = moe_hsum8(accf[t]);
#else
    float sum[MOE_MATMUL_GROUP] = {0};
    for (int b = 0; b < blocks; b++, row += Q6_K_BYTES) {
        const int8_t *scales = (const int8_t *)(row + Q6_K_SCALES);
        int8_t nq[256];
        for (int i = 0; i < 256; i++) {
            const int h = i / 128, k = i % 128 / 32, l = i % 32;
            const int low = (row[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0F;
            const int top = (row[Q6_K_QH + 32 * h + l] >> (2 * k)) & 0x03;
            nq[i] = (int8_t)(low | top << 4);
        }
        const float d = half_to_float(load_u16(row + Q6_K_D));
        for (int t = 0; t < G; t++) {
            const moe_block_q8k *xb = x + (size_t)t * blocks + b;
            int isum = 0;
            for (int s = 0; s < 16; s++) isum -= 32 * scales[s] * xb->bsums[s];
            for (int i = 0; i < 256; i++) isum += scales[i / 16] * nq[i] * xb->qs[i];
            sum[t] += d * xb->d * (float)isum;
        }
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = sum[t];
#endif
}

// ---- Q5_1 ---------------------------------------------------------------------------------------
// dot_q5_1's arithmetic for G tokens, the block's quants unpacked once.
MOE_GROUP_FN q5_1_group(const uint8_t *row, const moe_block_q8 *x, int blocks, const float *scales, float *y, size_t ldy, const int G) {
    (void)scales;
    float offsets[MOE_MATMUL_GROUP] = {0};
#if MOE_AVX2
    __m256 acc[MOE_MATMUL_GROUP];
    for (int t = 0; t < G; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++, row += Q5_1_BYTES) {
        const __m256i n = five_bit_quants(row + 4, row + 8);
        const float d = half_to_float(load_u16(row)), m = half_to_float(load_u16(row + 2));
        for (int t = 0; t < G; t++) {
            const moe_block_q8 *xb = x + (size_t)t * blocks + b;
            const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(n, _mm256_loadu_si256((const __m256i *)xb->qs)), _mm256_set1_epi16(1));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb->d), _mm256_cvtepi32_ps(dot), acc[t]);
            offsets[t] += m * xb->d * (float)xb->sum;
        }
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = moe_hsum8(acc[t]) + offsets[t];
#else
    float sum[MOE_MATMUL_GROUP] = {0};
    for (int b = 0; b < blocks; b++, row += Q5_1_BYTES) {
        int n[32];
        for (int i = 0; i < 32; i++) n[i] = five_bit_quant(row + 4, row + 8, i);
        const float d = half_to_float(load_u16(row)), m = half_to_float(load_u16(row + 2));
        for (int t = 0; t < G; t++) {
            const moe_block_q8 *xb = x + (size_t)t * blocks + b;
            int s = 0;
            for (int i = 0; i < 32; i++) s += n[i] * xb->qs[i];
            sum[t] += d * xb->d * (float)s;
            offsets[t] += m * xb->d * (float)xb->sum;
        }
    }
    for (int t = 0; t < G; t++) y[(size_t)t * ldy] = sum[t] + offsets[t];
#endif
}

MOE_MATMUL_DEFINE(MOE_FN(moe_matmul_q8_0), moe_block_q8, 32, q8_0_group)
MOE_MATMUL_DEFINE(MOE_FN(moe_matmul_q4_0), moe_block_q8, 32, q4_0_group)
MOE_MATMUL_DEFINE(MOE_FN(moe_matmul_q5_0), moe_block_q8, 32, q5_0_group)
MOE_MATMUL_DEFINE(MOE_FN(moe_matmul_q5_1), moe_block_q8, 32, q5_1_group)
MOE_MATMUL_DEFINE(MOE_FN(moe_matmul_q4_k), moe_block_q8k, 256, q4_k_group)
MOE_MATMUL_DEFINE(MOE_FN(moe_matmul_q5_k), moe_block_q8k, 256, q5_k_group)
MOE_MATMUL_DEFINE(MOE_FN(moe_matmul_q6_k), moe_block_q8k, 256, q6_k_group)

#undef Q32_STEP
#undef MOE_GROUP_FN
