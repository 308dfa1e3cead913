// Q8_0 and Q4_0 products with AVX-512 VNNI's vpdpbusd (unsigned bytes × signed bytes, four
// products summed straight into int32 lanes). The 256-bit bodies come first: they define the bits
// (the batched kernels in quant_matmul_vnni.c equal them) and serve rows longer than the wide
// bodies' stack copy of x; the two-blocks-per-zmm bodies after them are what runs. vpdpbusd needs one unsigned
// side, so the weights are biased to unsigned and the bias times the activation block's sum is
// taken off: Q8_0 as w + 128 (w XOR 0x80), Q4_0 as its raw nibble n = w + 8. Per block that is
// two vector operations where the AVX2 kernels need four (vpsignb ×2, vpmaddubsw, vpmaddwd).
// Compiled for that target by function attribute and chosen at run time (moe_cpu_has_vnni).
#include "cpu_override.h"
#include "quant_kernels.h"
#include "far_rows.h"
#include "vector_sums.h"

#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

int moe_cpu_has_vnni(void) {
    __builtin_cpu_init();
    // BW too: the K formats' kernels (quant_kernels_k_vnni.c) use 512-bit byte and word operations.
    return moe_cpu_avx512_allowed() && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

int moe_cpu_is_amd(void) {
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
}

// Software prefetch this far ahead of the row being read. The hardware prefetchers stop at 4 KiB
// pages and these loops spend more instructions per byte than the bf16 one, so fewer lines are
// in flight; measured on 512×1024 and 2048×1024 Q8_0 products, 8 KiB ahead gave +10–20%
// (moepp matvec-bench), 4 KiB less, 16 KiB mixed.
#ifndef PREFETCH_BYTES
#define PREFETCH_BYTES 8192
#endif

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni"))), apply_to = function)

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

// The 256-bit bodies: the wide ones' fallback for long rows, and their definition of the bits.
static void moe_matvec_q8_0_vnni_256(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
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

static void moe_matvec_q4_0_vnni_256(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
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

// ---- Two blocks per 512-bit vector ---------------------------------------------------------------
// The 256-bit bodies above spent more time on each block's scalar scale (load, convert, multiply,
// broadcast) and on their 256-bit operations than memory takes to deliver a block, so they streamed
// below a plain read. Here one zmm holds two blocks, b and b + 1, each format in the lane order
// that makes its own unpacking cheapest (below); the scales are spread to match, so each lane gets
// the same float operations in the same order as in the 256-bit body: the same bits as before and
// as the batched kernels (quant_matmul_vnni.c). Eight blocks' f16 scales come in one gather and
// one convert; the activation is rearranged once per call (quants in the format's lane order, each
// block's −bias·Σx as a ready vector), and two rows share its loads. Both formats share the loop
// (q32_wide_rows, q32_wide_matvec); only the rearranging, the pair step and the tail differ.

// The rearranged activation lives on the stack: past this many blocks (n > 16384) the 256-bit bodies run.
enum { Q32_WIDE_MAX_BLOCKS = 512 };

typedef struct {
    int8_t *qs;      // 32 per block, in the format's lane order, 64-byte aligned
    int32_t *bias;   // 8 per block: the format's −bias·Σx in each block's first int32 lane, zeros
    float *d;        // one per block, then 8 zeros
} q32_wide_x;

// Blocks b … b + 7 of a row (stride bytes apart, f16 scale first): their d_w·d_x, as scale_of forms them.
static inline __attribute__((always_inline)) __m256 q32_wide_scales8(const uint8_t *blocks, const int stride, const float *d) {
    const __m256i offsets = _mm256_setr_epi32(0, stride, 2 * stride, 3 * stride, 4 * stride, 5 * stride, 6 * stride, 7 * stride);
    const __m256i words = _mm256_i32gather_epi32((const int *)blocks, offsets, 1);
    return _mm256_mul_ps(_mm256_cvtph_ps(_mm256_cvtepi32_epi16(words)), _mm256_loadu_ps(d));
}

// s[2k] into the lanes of block b, s[2k + 1] into those of block b + 1 (the set bits of odd_lanes).
static inline __attribute__((always_inline)) __m512 q32_wide_spread(__m256 s, int k, const __mmask16 odd_lanes) {
    const __m512i index = _mm512_mask_set1_epi32(_mm512_set1_epi32(2 * k), odd_lanes, 2 * k + 1);
    return _mm512_permutexvar_ps(index, _mm512_castps256_ps512(s));
}

static inline float q32_wide_half(const uint8_t *block) {
    uint16_t h;
    memcpy(&h, block, 2);
    return _cvtsh_ss(h);
}

// ---- Q8_0 ----------------------------------------------------------------------------------------
// Block b in lanes 0–7 and block b + 1 in lanes 8–15, so the accumulator's halves are exactly
// q8_0_block's acc0 (even blocks) and acc1 (odd blocks).
enum { Q8_WIDE_ODD_LANES = 0xFF00 };

static inline void q8_wide_prepare(const moe_block_q8 *x, int blocks, q32_wide_x *p) {
    for (int b = 0; b < blocks; b++) {
        _mm256_store_si256((__m256i *)(p->qs + 32 * b), _mm256_loadu_si256((const __m256i *)x[b].qs));
        _mm256_store_si256((__m256i *)(p->bias + 8 * b), _mm256_zextsi128_si256(_mm_cvtsi32_si128(-128 * x[b].sum)));
        p->d[b] = x[b].d;
    }
    for (int b = blocks; b < blocks + 8; b++) p->d[b] = 0;
}

static inline __m512 q8_wide_pair_scale(const uint8_t *pair, const float *d) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(q32_wide_half(pair) * d[0])),
                                               _mm256_castps_pd(_mm256_set1_ps(q32_wide_half(pair + 34) * d[1])), 1));
}

// Blocks b and b + 1 of one row into acc, with their scales s.
static inline __m512 q8_wide_pair(const uint8_t *pair, const q32_wide_x *p, int b, __m512 s, __m512 acc) {
    const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(pair + 2))),
                                         _mm256_loadu_si256((const __m256i *)(pair + 36)), 1);
    const __m512i sums = _mm512_dpbusd_epi32(_mm512_load_si512(p->bias + 8 * b), _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)),
                                             _mm512_load_si512(p->qs + 32 * b));
    return _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(sums), acc);
}

// The blocks after the last whole eight, then the halves summed as the 256-bit body sums them.
static inline float q8_wide_finish(const uint8_t *row, const q32_wide_x *p, const moe_block_q8 *x, int b, int blocks, __m512 acc) {
    (void)x;   // the rearranged copy serves the odd last block too
    for (; b + 1 < blocks; b += 2) {
        const uint8_t *pair = row + (size_t)b * 34;
        acc = q8_wide_pair(pair, p, b, q8_wide_pair_scale(pair, p->d + b), acc);
    }
    __m256 even = _mm512_castps512_ps256(acc), odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    if (b < blocks) {
        const uint8_t *block = row + (size_t)b * 34;
        const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(block + 2)), _mm256_set1_epi8((char)0x80));
        const __m256i sums = _mm256_dpbusd_epi32(_mm256_load_si256((const __m256i *)(p->bias + 8 * b)), w,
                                                 _mm256_load_si256((const __m256i *)(p->qs + 32 * b)));
        even = _mm256_fmadd_ps(_mm256_set1_ps(q32_wide_half(block) * p->d[b]), _mm256_cvtepi32_ps(sums), even);
    }
    return moe_hsum8(_mm256_add_ps(even, odd));
}

// ---- Q4_0 ----------------------------------------------------------------------------------------
// Block b's 16 bytes hold elements 0–15 in their low nibbles and 16–31 in their high ones; two
// blocks' bytes side by side in a ymm, masked and shifted, give the 128-bit lanes (b low, b+1 low,
// b high, b+1 high) at no shuffle, so the activation is rearranged to match (x_b[0..15],
// x_b+1[0..15], x_b[16..31], x_b+1[16..31]). Int32 lanes 0–3 and 8–11 are then the 256-bit body's
// lanes 0–7 of block b, lanes 4–7 and 12–15 those of block b + 1: the scales are spread the same
// way and the halves regrouped at the end, the same operations per lane as before.
enum { Q4_WIDE_ODD_LANES = 0xF0F0 };

static inline void q4_wide_prepare(const moe_block_q8 *x, int blocks, q32_wide_x *p) {
    for (int b = 0; b + 1 < blocks; b += 2) {
        int8_t *q = p->qs + 32 * b;
        memcpy(q, x[b].qs, 16);
        memcpy(q + 16, x[b + 1].qs, 16);
        memcpy(q + 32, x[b].qs + 16, 16);
        memcpy(q + 48, x[b + 1].qs + 16, 16);
        _mm512_store_si512(p->bias + 8 * b, _mm512_setr_epi32(-8 * x[b].sum, 0, 0, 0, -8 * x[b + 1].sum, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    }
    for (int b = 0; b < blocks; b++) p->d[b] = x[b].d;
    for (int b = blocks; b < blocks + 8; b++) p->d[b] = 0;
}

static inline __m512 q4_wide_pair(const uint8_t *pair, const q32_wide_x *p, int b, __m512 s, __m512 acc) {
    const __m256i packed = _mm256_loadu2_m128i((const __m128i *)(pair + 20), (const __m128i *)(pair + 2));
    const __m512i n = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(packed), _mm256_srli_epi16(packed, 4), 1), _mm512_set1_epi8(0x0F));
    const __m512i sums = _mm512_dpbusd_epi32(_mm512_load_si512(p->bias + 8 * b), n, _mm512_load_si512(p->qs + 32 * b));
    return _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(sums), acc);
}

static inline float q4_wide_finish(const uint8_t *row, const q32_wide_x *p, const moe_block_q8 *x, int b, int blocks, __m512 acc) {
    for (; b + 1 < blocks; b += 2) {
        const uint8_t *pair = row + (size_t)b * 18;
        const __m256 s = _mm256_setr_ps(q32_wide_half(pair) * p->d[b], q32_wide_half(pair + 18) * p->d[b + 1], 0, 0, 0, 0, 0, 0);
        acc = q4_wide_pair(pair, p, b, q32_wide_spread(s, 0, Q4_WIDE_ODD_LANES), acc);
    }
    const __m512 grouped = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15), acc);
    __m256 even = _mm512_castps512_ps256(grouped), odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(grouped), 1));
    if (b < blocks) even = q4_0_block(row + (size_t)b * 18, x + b, even);
    return moe_hsum8(_mm256_add_ps(even, odd));
}

// ---- The shared loop -----------------------------------------------------------------------------
// The format's block stride, odd lanes and helpers are constants at each call, so everything here
// is inlined and folded: the same code as a hand-written copy per format.
typedef void q32_wide_prepare_fn(const moe_block_q8 *x, int blocks, q32_wide_x *p);
typedef __m512 q32_wide_pair_fn(const uint8_t *pair, const q32_wide_x *p, int b, __m512 s, __m512 acc);
typedef float q32_wide_finish_fn(const uint8_t *row, const q32_wide_x *p, const moe_block_q8 *x, int b, int blocks, __m512 acc);
typedef void q32_narrow_fn(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);

// `rows` rows (1 or 2, a constant at each call) from row0, row_bytes apart, eight blocks a step.
// Prefetch: per row per step, the lines of the 8 × stride bytes the step reads (5 for Q8_0, 3 for
// Q4_0), PREFETCH_BYTES ahead.
static inline __attribute__((always_inline)) void q32_wide_rows(const uint8_t *row0, size_t row_bytes, const q32_wide_x *p, const moe_block_q8 *x,
                                                                int blocks, float *y, const int rows, const int stride, const __mmask16 odd_lanes,
                                                                q32_wide_pair_fn *pair, q32_wide_finish_fn *finish) {
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    int b = 0;
    for (; b + 7 < blocks; b += 8) {
        __m256 s[2];
        for (int i = 0; i < rows; i++) {
            const uint8_t *step = row0 + i * row_bytes + (size_t)b * stride;
            for (int line = 0; line < (8 * stride + 63) / 64; line++) _mm_prefetch((const char *)(step + PREFETCH_BYTES + 64 * line), _MM_HINT_T0);
            s[i] = q32_wide_scales8(step, stride, p->d + b);
        }
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < rows; i++)
                acc[i] = pair(row0 + i * row_bytes + (size_t)(b + 2 * k) * stride, p, b + 2 * k, q32_wide_spread(s[i], k, odd_lanes), acc[i]);
    }
    for (int i = 0; i < rows; i++) y[i] = finish(row0 + i * row_bytes, p, x, b, blocks, acc[i]);
}

static inline __attribute__((always_inline)) void q32_wide_matvec(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y,
                                                                  int row_begin, int row_end, const int stride, const __mmask16 odd_lanes,
                                                                  q32_narrow_fn *narrow, q32_wide_prepare_fn *prepare,
                                                                  q32_wide_pair_fn *pair, q32_wide_finish_fn *finish) {
    const int blocks = n / 32;
    if (blocks > Q32_WIDE_MAX_BLOCKS) {
        narrow(w, row_bytes, x, n, y, row_begin, row_end);
        return;
    }
    _Alignas(64) int8_t qs[32 * Q32_WIDE_MAX_BLOCKS];
    _Alignas(64) int32_t bias[8 * Q32_WIDE_MAX_BLOCKS];
    float d[Q32_WIDE_MAX_BLOCKS + 8];
    q32_wide_x p = {qs, bias, d};
    prepare(x, blocks, &p);
    int r = row_begin;
    for (; r + 1 < row_end; r += 2)
        q32_wide_rows((const uint8_t *)w + (size_t)r * row_bytes, row_bytes, &p, x, blocks, y + r, 2, stride, odd_lanes, pair, finish);
    if (r < row_end) q32_wide_rows((const uint8_t *)w + (size_t)r * row_bytes, row_bytes, &p, x, blocks, y + r, 1, stride, odd_lanes, pair, finish);
}

void moe_matvec_q8_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    q32_wide_matvec(w, row_bytes, x, n, y, row_begin, row_end, 34, Q8_WIDE_ODD_LANES, moe_matvec_q8_0_vnni_256, q8_wide_prepare, q8_wide_pair,
                    q8_wide_finish);
}

void moe_matvec_q4_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    q32_wide_matvec(w, row_bytes, x, n, y, row_begin, row_end, 18, Q4_WIDE_ODD_LANES, moe_matvec_q4_0_vnni_256, q4_wide_prepare, q4_wide_pair,
                    q4_wide_finish);
}

// ---- Four far-apart rows, 256-bit (chosen on AMD: QuantizedKernels.q8FarRows) ----------------
// On a Zen 4 the wide body above streamed about half of what the AVX2 body's four far-apart rows
// did (BENCHMARKS.md "A Zen 4 with AVX-512"); the AVX2 body sums its integers in other lanes, so
// its bits differ from the batched VNNI kernel's and decoding would no longer equal a prompt
// recompute. This is the AVX2 loop's shape with the 256-bit VNNI block above: each row summed
// exactly as moe_matvec_q8_0_vnni_256 sums it (its bits), four rows a quarter of the range apart
// in one pass, no software prefetch (it read lower with it on that machine).
enum { Q8_FAR_ROWS = 4 };

static inline __attribute__((always_inline)) void q8_0_vnni_rows(const uint8_t *const *rows, const moe_block_q8 *x, int blocks,
                                                                 float *const *out, const int S) {
    __m256 acc0[Q8_FAR_ROWS], acc1[Q8_FAR_ROWS];
    for (int j = 0; j < S; j++) acc0[j] = acc1[j] = _mm256_setzero_ps();
    int b = 0;
    for (; b + 1 < blocks; b += 2) {
        for (int j = 0; j < S; j++) {
            acc0[j] = q8_0_block(rows[j] + (size_t)b * 34, x + b, acc0[j]);
            acc1[j] = q8_0_block(rows[j] + (size_t)(b + 1) * 34, x + b + 1, acc1[j]);
        }
    }
    for (int j = 0; j < S; j++) {
        if (b < blocks) acc0[j] = q8_0_block(rows[j] + (size_t)b * 34, x + b, acc0[j]);
        *out[j] = moe_hsum8(_mm256_add_ps(acc0[j], acc1[j]));
    }
}

void moe_matvec_q8_0_vnni_far(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    MOE_FAR_ROWS(Q8_FAR_ROWS, q8_0_vnni_rows(far_rows, x, n / 32, far_out, far_count));
}

#pragma clang attribute pop

#else
// Not x86-64 (or not clang): never chosen, since moe_cpu_has_vnni() is 0.
int moe_cpu_has_vnni(void) { return 0; }
int moe_cpu_is_amd(void) { return 0; }
void moe_matvec_q8_0_vnni_far(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    moe_matvec_q8_0(w, row_bytes, x, n, y, row_begin, row_end);
}
void moe_matvec_q8_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    moe_matvec_q8_0(w, row_bytes, x, n, y, row_begin, row_end);
}
void moe_matvec_q4_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end) {
    moe_matvec_q4_0(w, row_bytes, x, n, y, row_begin, row_end);
}
#endif
