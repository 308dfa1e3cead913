// Horizontal sums of float vectors, shared by every kernel file (one definition, so that all
// bodies reduce their lanes in the same order: the bit-identity tests between matvec and
// batched bodies depend on it). Pairwise: high half + low half, then the two remaining halves.
#ifndef MOEPP_VECTOR_SUMS_H
#define MOEPP_VECTOR_SUMS_H

#if defined(__x86_64__) && defined(__AVX__)
#include <immintrin.h>

static inline float moe_hsum4(__m128 v) {
    __m128 r = _mm_add_ps(v, _mm_movehl_ps(v, v));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

static inline float moe_hsum8(__m256 v) {
    return moe_hsum4(_mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v)));
}
#endif

#endif
