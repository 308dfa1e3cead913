// SwiGLU's gate out[i] = g / (1 + e^(−g)) · up[i] (see swiglu_kernels.h).
//
// e^x, x = −g, in each lane (Cephes expf's reduction and polynomial, ≤ ~1 ulp on the reduced
// range; measured against Double by the tests):
//   n = round(x·log₂e),  r = x − n·ln2  (ln2 = C1 + C2, C1 exact in 9 bits so n·C1 is exact),
//   e^r ≈ 1 + r + r²·P(r),  |r| ≤ ln2/2,  P of degree 5,
//   e^x = e^r · 2^⌊n/2⌋ · 2^(n−⌊n/2⌋).
// x is clamped to [−104, 89] first, so n ∈ [−150, 129]; the two halves of 2^n are then normal
// floats, the first product is exact, and the second rounds once: overflow gives ∞, results
// below 2^−126 come out as correctly rounded denormals (no FTZ/DAZ here), down to 0.
#include "swiglu_kernels.h"
#include "element_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define EXP_HI 89.0f
#define EXP_LO -104.0f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f

// ---- scalar twin (every machine) ------------------------------------------------------------

void moe_silu_multiply_scalar(const float *gate, const float *up, float *out, long count) {
    for (long i = 0; i < count; i++) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)

// ---- AVX2 + FMA body (the x86-64 baseline; the unsuffixed name) -----------------------------

static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), x);  // (constant, x): a NaN x passes through
    x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);  // NaN lanes give INT_MIN: garbage scale, NaN y
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}

static inline __m256 silu_multiply_avx2(__m256 g, __m256 u) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 s = _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
    // A NaN gate: the scale bits above are garbage, so pass NaN on explicitly.
    const __m256 nan = _mm256_cmp_ps(g, g, _CMP_UNORD_Q);
    return _mm256_blendv_ps(s, _mm256_add_ps(g, u), nan);
}

void moe_silu_multiply(const float *gate, const float *up, float *out, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(out + i, silu_multiply_avx2(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < count) {
        // The tail through the same lanes, padded with zeros (silu(0)·0 = 0, never stored).
        float g[8] = {0}, u[8] = {0}, o[8];
        memcpy(g, gate + i, (size_t)(count - i) * 4);
        memcpy(u, up + i, (size_t)(count - i) * 4);
        _mm256_storeu_ps(o, silu_multiply_avx2(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(out + i, o, (size_t)(count - i) * 4);
    }
}

// ---- AVX-512F body (chosen at run time: moe_cpu_has_avx512) ---------------------------------

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f"))), apply_to = function)

static inline __m512 exp_avx512(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), x);
    x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    const __m512i ni = _mm512_cvtps_epi32(n);
    const __m512i n1 = _mm512_srai_epi32(ni, 1);
    const __m512i n2 = _mm512_sub_epi32(ni, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(y, s1), s2);
}

static inline __m512 silu_multiply_avx512(__m512 g, __m512 u) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 s = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
    const __mmask16 nan = _mm512_cmp_ps_mask(g, g, _CMP_UNORD_Q);
    return _mm512_mask_add_ps(s, nan, g, u);
}

void moe_silu_multiply_avx512(const float *gate, const float *up, float *out, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16)
        _mm512_storeu_ps(out + i, silu_multiply_avx512(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
    if (i < count) {
        // The tail through the same lanes: masked loads read zeros (and never fault) past the end.
        const __mmask16 m = (__mmask16)((1u << (count - i)) - 1);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i);
        _mm512_mask_storeu_ps(out + i, m, silu_multiply_avx512(g, u));
    }
}

#pragma clang attribute pop

#else

// Not x86-64 with AVX2: the scalar twin under both names (moe_cpu_has_avx512() is 0 there).
void moe_silu_multiply(const float *gate, const float *up, float *out, long count) { moe_silu_multiply_scalar(gate, up, out, count); }
void moe_silu_multiply_avx512(const float *gate, const float *up, float *out, long count) { moe_silu_multiply_scalar(gate, up, out, count); }

#endif
