// Q8_0 and Q4_0 products with AVX-512 VNNI's vpdpbusd (unsigned bytes × signed bytes, four
// products summed straight into int32 lanes) on 256-bit vectors. vpdpbusd needs one unsigned
// side, so the weights are biased to unsigned and the bias times the activation block's sum is
// taken off: Q8_0 as w + 128 (w XOR 0x80), Q4_0 as its raw nibble n = w + 8. Per block that is
// two vector operations where the AVX2 kernels need four (vpsignb ×2, vpmaddubsw, vpmaddwd).
// Compiled for that target by function attribute and chosen at run time (moe_cpu_has_vnni).
#include "quant_kernels.h"
#include "vector_sums.h"

#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

int moe_cpu_has_vnni(void) {
    __builtin_cpu_init();
    // BW too: the K formats' kernels (quant_kernels_k_vnni.c) use 512-bit byte and word operations.
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

// Software prefetch this far ahead of the row being read. The hardware prefetchers stop at 4 KiB
// pages and these loops spend more instructions per byte than the bf16 one, so fewer lines are
// in flight; measured on 512×1024 and 2048×1024 Q8_0 products, 8 KiB ahead gave +10–20%
// (moepp matvec-bench), 4 KiB less, 16 KiB mixed.
#ifndef PREFETCH_BYTES
#define PREFETCH_BYTES 8192
#endif

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni"))), apply_to = function)

static inline float scale_of(const uint8_t *block, const moe_block_q8 *x) {
    uint16_t h;
    memcpy(&h, block, 2);
    return _cvtsh_ss(h) * x->d;
}


// Σ (w + 128)·x − 128·Σx = Σ w·x; the correction starts in lane 0 of the accumulator.
static inline __m256 q8_0_block(const uint8_t *row, const moe_block_q8 *x, __m256 acc) {
    const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + 2)), _mm256_set1_epi8((char)0x80));
    const __m256i sums = _mm256_dpbusd_epi32(_mm256_zextsi128_si256(_mm_cvtsi32_si128(-128 * x->sum)), w,
                                             _mm256_loadu_si256((const __m256i *)x->qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(scale_of(row, x)), _mm256_cvtepi32_ps(sums), acc);
}

// Σ n·x − 8·Σx = Σ (n − 8)·x.
static inline __m256 q4_0_block(const uint8_t *row, const moe_block_q8 *x, __m256 acc) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)(row + 2));
    const __m256i n = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F));
    const __m256i sums = _mm256_dpbusd_epi32(_mm256_zextsi128_si256(_mm_cvtsi32_si128(-8 * x->sum)), n,
                                             _mm256_loadu_si256((const __m256i *)x->qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(scale_of(row, x)), _mm256_cvtepi32_ps(sums), acc);
}

void moe_matvec_q8_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    const int blocks = n / 32;
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            _mm_prefetch((const char *)(row + (size_t)b * 34 + PREFETCH_BYTES), _MM_HINT_T0);
            acc0 = q8_0_block(row + (size_t)b * 34, x + b, acc0);
            acc1 = q8_0_block(row + (size_t)(b + 1) * 34, x + b + 1, acc1);
        }
        if (b < blocks) acc0 = q8_0_block(row + (size_t)b * 34, x + b, acc0);
        y[r] = moe_hsum8(_mm256_add_ps(acc0, acc1));
    }
}

void moe_matvec_q4_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    const int blocks = n / 32;
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            if (b % 4 == 0) _mm_prefetch((const char *)(row + (size_t)b * 18 + PREFETCH_BYTES), _MM_HINT_T0);
            acc0 = q4_0_block(row + (size_t)b * 18, x + b, acc0);
            acc1 = q4_0_block(row + (size_t)(b + 1) * 18, x + b + 1, acc1);
        }
        if (b < blocks) acc0 = q4_0_block(row + (size_t)b * 18, x + b, acc0);
        y[r] = moe_hsum8(_mm256_add_ps(acc0, acc1));
    }
}

#pragma clang attribute pop

#else
// Not x86-64 (or not clang): never chosen, since moe_cpu_has_vnni() is 0.
int moe_cpu_has_vnni(void) { return 0; }
void moe_matvec_q8_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    moe_matvec_q8_0(w, row_bytes, x, n, y, row_begin, row_end);
}
void moe_matvec_q4_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    moe_matvec_q4_0(w, row_bytes, x, n, y, row_begin, row_end);
}
#endif
