// What the rows8 kernels of the 32-element formats (q40_rows8.c, q80_rows8.c) share: their
// accumulators hold row r's two half blocks in lanes 2r and 2r + 1. Include inside the files'
// AVX-512 target region (the functions use its intrinsics), after <immintrin.h>:
// a header included there would give its own declarations the target attribute too.
#ifndef MOEPP_ROWS8_HALVES_H
#define MOEPP_ROWS8_HALVES_H

// `pairs` spreads the eight rows' scales over lanes 2r, 2r + 1; `even`/`odd` pick the halves.
typedef struct {
    __m512i pairs, even, odd;
} rows8_halves_indices;

static inline void rows8_halves_indices_init(rows8_halves_indices *ix) {
    int pairs[16], even[16], odd[16];
    for (int i = 0; i < 16; i++) { pairs[i] = i / 2; even[i] = 2 * (i % 8); odd[i] = 2 * (i % 8) + 1; }
    ix->pairs = _mm512_loadu_si512((const void *)pairs);
    ix->even = _mm512_loadu_si512((const void *)even);
    ix->odd = _mm512_loadu_si512((const void *)odd);
}

// The eight rows' scales (f16 at `scales`) times the activation block's, on lanes 2r, 2r + 1.
static inline __m512 rows8_halves_scales(const rows8_halves_indices *ix, const uint8_t *scales) {
    return _mm512_permutexvar_ps(ix->pairs, _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)scales))));
}

// Row r = lane 2r + lane 2r + 1, in that order (the scalar twins' acc[0] + acc[1]), stored through `keep`.
static inline void rows8_halves_store(const rows8_halves_indices *ix, __m512 acc, float *y, __mmask8 keep) {
    const __m512 rows = _mm512_add_ps(_mm512_permutexvar_ps(ix->even, acc), _mm512_permutexvar_ps(ix->odd, acc));
    _mm256_mask_storeu_ps(y, keep, _mm512_castps512_ps256(rows));
}

#endif
