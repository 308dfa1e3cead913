// Matrix–vector rows for f32, f16 and bf16 weights: scalar, AVX2 and AVX-512F bodies (see
// element_kernels.h). Each row is y_r = Σ_i w_r[i]·x[i], summed in f32 in several accumulators.
#include "cpu_override.h"
#include "element_kernels.h"
#include "half_float.h"
#include "vector_sums.h"
#include "far_rows.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Software prefetch in the f16 and bf16 AVX-512 bodies (the ones this Intel machine runs), this
// far ahead of the byte being read. A row is 4–8 KiB here and the hardware streamer does not cross
// a 4 KiB page by itself; these loops spend two conversions and two activation loads per 64-byte
// line, so without help one core kept too few lines in flight and streamed at about 0.67 of a
// plain read; with it 0.85–0.96 (moepp matvec-bench, BENCHMARKS.md "Streaming f16/bf16
// matvecs"). 2 KiB ahead was about the same, 1 KiB less, non-temporal hints worse. f32 (one
// load per line, already ~0.95 of a plain read) measured 0.95× with it on the 1.1 B model, so it
// has none. The AVX2 bodies keep none either: on a Zen 4 an 8 KiB prefetch halved the bf16 rate,
// and on an AVX2-only Zen 3 the read kernels with it read below the same kernels without (one
// stream 18.4 against 20.9 GB/s, four streams 24.0 against 27.2; `moepp bandwidth --rounds 5`,
// BENCHMARKS.md "AVX2-only CPUs"). Prefetching past the last row is harmless (prefetches never
// fault).
// Into L2 (T1), not L1: the L2 streamer then continues from the prefetched line while L1's few
// fill buffers stay free for the loads. A 2 GB stand-alone bf16 harness (8192×1536 products, 2
// threads, two runs of 6 interleaved rounds) streamed 22.2–23.8 GB/s with T1 (medians ~22.5)
// against 19.1–22.4 with T0 (~20.5); the 7B MoE++ decoded 1.15× (0.94–1.24) faster over 8
// interleaved rounds (BENCHMARKS.md "Prefetch into L2").
#define STREAM_PREFETCH_BYTES 4096
#define STREAM_PREFETCH_HINT _MM_HINT_T1

static inline float bf16_bits_to_float(uint16_t b) {
    const uint32_t bits = (uint32_t)b << 16;
    float f; memcpy(&f, &bits, 4); return f;
}

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

void moe_split_even_odd(const float *x, int n, float *out) {
    for (int block = 0; block + 32 <= n; block += 32) {
        for (int i = 0; i < 16; i++) {
            out[block + i] = x[block + 2 * i];
            out[block + 16 + i] = x[block + 2 * i + 1];
        }
    }
}

// The three matvecs named moe_matvec_{f32,f16,bf16}<name>, each calling moe_matvec_<format><target>
// with its arguments: where a body is not compiled in, its name still exists and runs the next
// body down (the callers never choose it there).
#define MOE_ELEMENT_MATVECS_CALLING(name, target)                                                                          \
    void moe_matvec_f32##name(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) { \
        moe_matvec_f32##target(w, row_bytes, x, n, y, row_begin, row_end);                                                 \
    }                                                                                                                      \
    void moe_matvec_f16##name(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) { \
        moe_matvec_f16##target(w, row_bytes, x, n, y, row_begin, row_end);                                                 \
    }                                                                                                                      \
    void moe_matvec_bf16##name(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y,      \
                               int row_begin, int row_end) {                                                               \
        moe_matvec_bf16##target(w, row_bytes, split, x, n, y, row_begin, row_end);                                         \
    }

// ---- scalar bodies (every machine; the tests hold them to the naive twin) --------------------

void moe_matvec_f32_scalar(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) {
        const float *row = (const float *)((const uint8_t *)w + (size_t)r * row_bytes);
        float sum = 0;
        for (int i = 0; i < n; i++) sum += row[i] * x[i];
        y[r] = sum;
    }
}

void moe_matvec_f16_scalar(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += moe_half_bits_to_float(load_u16(row + 2 * i)) * x[i];
        y[r] = sum;
    }
}

void moe_matvec_bf16_scalar(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end) {
    (void)split;
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += bf16_bits_to_float(load_u16(row + 2 * i)) * x[i];
        y[r] = sum;
    }
}

// ---- AVX2 bodies (the x86-64 baseline; the unsuffixed names) --------------------------------

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
int moe_element_kernels_avx2(void) { return 1; }


// Rows several at a time, far apart. One row at a time is one sequential stream per core, and on
// an AVX2-only Zen 3 that streams well below what the memory gives (a plain read kernel: one
// stream ~21 GB/s, four ~25–27 GB/s on 2 cores); reading AVX2_ROWS rows side by side — the
// chunk's rows cut in AVX2_ROWS parts, row k of each — keeps that many streams in flight
// (BENCHMARKS.md "AVX2-only CPUs"). Each row is still summed exactly as the one-row loop sums it
// (the same four accumulators, the same order, the same reduction), so the bits do not change.
#define AVX2_ROWS 4

// The three formats' one-step bodies: 32 elements of a row into a[0..3].
enum element_format { ELEMENT_F32, ELEMENT_F16, ELEMENT_BF16 };

static inline __m256 load_f16x8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

// A block of 32 bf16 is 16 words: words 0–7 hold elements 0–15 (evens at split 0–7, odds at
// split 16–23), words 8–15 elements 16–31 (evens at split 8–15, odds at split 24–31).
static inline __attribute__((always_inline)) void step32(const uint8_t *row, int i, const float *x, const float *split,
                                                         __m256 *a, const enum element_format format) {
    switch (format) {
    case ELEMENT_F32: {
        const float *f = (const float *)row;
        a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(f + i), _mm256_loadu_ps(x + i), a[0]);
        a[1] = _mm256_fmadd_ps(_mm256_loadu_ps(f + i + 8), _mm256_loadu_ps(x + i + 8), a[1]);
        a[2] = _mm256_fmadd_ps(_mm256_loadu_ps(f + i + 16), _mm256_loadu_ps(x + i + 16), a[2]);
        a[3] = _mm256_fmadd_ps(_mm256_loadu_ps(f + i + 24), _mm256_loadu_ps(x + i + 24), a[3]);
        break;
    }
    case ELEMENT_F16:
        a[0] = _mm256_fmadd_ps(load_f16x8(row + 2 * i), _mm256_loadu_ps(x + i), a[0]);
        a[1] = _mm256_fmadd_ps(load_f16x8(row + 2 * i + 16), _mm256_loadu_ps(x + i + 8), a[1]);
        a[2] = _mm256_fmadd_ps(load_f16x8(row + 2 * i + 32), _mm256_loadu_ps(x + i + 16), a[2]);
        a[3] = _mm256_fmadd_ps(load_f16x8(row + 2 * i + 48), _mm256_loadu_ps(x + i + 24), a[3]);
        break;
    case ELEMENT_BF16: {
        const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(row + 2 * i));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(row + 2 * i + 32));
        a[0] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w0, 16)), _mm256_loadu_ps(split + i), a[0]);
        a[1] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w0, high)), _mm256_loadu_ps(split + i + 16), a[1]);
        a[2] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w1, 16)), _mm256_loadu_ps(split + i + 8), a[2]);
        a[3] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w1, high)), _mm256_loadu_ps(split + i + 24), a[3]);
        break;
    }
    }
}

static inline float element_at(const uint8_t *row, int i, const enum element_format format) {
    switch (format) {
    case ELEMENT_F32: return ((const float *)row)[i];
    case ELEMENT_F16: return _cvtsh_ss(load_u16(row + 2 * i));
    case ELEMENT_BF16: return bf16_bits_to_float(load_u16(row + 2 * i));
    }
    return 0;
}

// rows[0..S) summed side by side into out[0..S): per row (a0 + a1) + (a2 + a3) over whole blocks
// of 32, then the tail element by element.
static inline __attribute__((always_inline)) void rows_avx2(const uint8_t *const *rows, const float *x, const float *split, int n,
                                                            float *const *out, const int S, const enum element_format format) {
    __m256 a[AVX2_ROWS][4];
    for (int j = 0; j < S; j++) a[j][0] = a[j][1] = a[j][2] = a[j][3] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < S; j++) step32(rows[j], i, x, split, a[j], format);
    }
    for (int j = 0; j < S; j++) {
        float sum = moe_hsum8(_mm256_add_ps(_mm256_add_ps(a[j][0], a[j][1]), _mm256_add_ps(a[j][2], a[j][3])));
        for (int t = i; t < n; t++) sum += element_at(rows[j], t, format) * x[t];
        *out[j] = sum;
    }
}

static inline __attribute__((always_inline)) void matvec_avx2(const void *w, size_t row_bytes, const float *x, const float *split, int n,
                                                              float *y, int row_begin, int row_end, const enum element_format format) {
    MOE_FAR_ROWS(AVX2_ROWS, rows_avx2(far_rows, x, split, n, far_out, far_count, format));
}

void moe_matvec_f32(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    matvec_avx2(w, row_bytes, x, NULL, n, y, row_begin, row_end, ELEMENT_F32);
}

void moe_matvec_f16(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    matvec_avx2(w, row_bytes, x, NULL, n, y, row_begin, row_end, ELEMENT_F16);
}

void moe_matvec_bf16(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end) {
    matvec_avx2(w, row_bytes, x, split, n, y, row_begin, row_end, ELEMENT_BF16);
}
#else
int moe_element_kernels_avx2(void) { return 0; }
MOE_ELEMENT_MATVECS_CALLING(, _scalar)
#endif

// ---- AVX-512F bodies (chosen at run time: moe_cpu_has_avx512) -------------------------------
// 16-lane vectors; f16 and bf16 with the software prefetch. bf16 once stayed on the AVX2 body
// (it streamed faster than a 512-bit one on a Zen 4, both without prefetch); with the prefetch,
// on this Intel, the 512-bit body is as fast as an AVX2 one with the same prefetch.

#if defined(__x86_64__) && defined(__clang__)
int moe_cpu_has_avx512(void) {
    __builtin_cpu_init();
    return moe_cpu_avx512_allowed() && __builtin_cpu_supports("avx512f");
}

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f"))), apply_to = function)

// One row: two accumulators (elements 0–15 and 16–31 of each 32), reduced as one vector.
static inline float f32_row_avx512(const float *row, const float *x, int n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++) sum += row[i] * x[i];
    return sum;
}

// Four rows per pass, each summed exactly as f32_row_avx512 sums it (same accumulators, same
// order, so the same bits), sharing the activation loads. Why: one row at a time is one stream
// per core, and the hardware prefetcher restarts at every 4 KiB page of the file mapping; four
// streams keep more lines in flight across those restarts (BENCHMARKS.md "f32 decode: four rows
// per pass").
void moe_matvec_f32_avx512(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    int r = row_begin;
    for (; r + 4 <= row_end; r += 4) {
        const float *p0 = (const float *)((const uint8_t *)w + (size_t)r * row_bytes);
        const float *p1 = (const float *)((const uint8_t *)p0 + row_bytes);
        const float *p2 = (const float *)((const uint8_t *)p1 + row_bytes);
        const float *p3 = (const float *)((const uint8_t *)p2 + row_bytes);
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
        __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
        int i = 0;
        for (; i + 32 <= n; i += 32) {
            const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p0 + i), x0, a0);
            b0 = _mm512_fmadd_ps(_mm512_loadu_ps(p1 + i), x0, b0);
            c0 = _mm512_fmadd_ps(_mm512_loadu_ps(p2 + i), x0, c0);
            d0 = _mm512_fmadd_ps(_mm512_loadu_ps(p3 + i), x0, d0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p0 + i + 16), x1, a1);
            b1 = _mm512_fmadd_ps(_mm512_loadu_ps(p1 + i + 16), x1, b1);
            c1 = _mm512_fmadd_ps(_mm512_loadu_ps(p2 + i + 16), x1, c1);
            d1 = _mm512_fmadd_ps(_mm512_loadu_ps(p3 + i + 16), x1, d1);
        }
        float s0 = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)), s1 = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
        float s2 = _mm512_reduce_add_ps(_mm512_add_ps(c0, c1)), s3 = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
        for (; i < n; i++) { s0 += p0[i] * x[i]; s1 += p1[i] * x[i]; s2 += p2[i] * x[i]; s3 += p3[i] * x[i]; }
        y[r] = s0; y[r + 1] = s1; y[r + 2] = s2; y[r + 3] = s3;
    }
    for (; r < row_end; r++) y[r] = f32_row_avx512((const float *)((const uint8_t *)w + (size_t)r * row_bytes), x, n);
}

static inline __m512 load_f16x16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

void moe_matvec_f16_avx512(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int i = 0;
        for (; i + 32 <= n; i += 32) {
            _mm_prefetch((const char *)row + 2 * i + STREAM_PREFETCH_BYTES, STREAM_PREFETCH_HINT);
            a0 = _mm512_fmadd_ps(load_f16x16(row + 2 * i), _mm512_loadu_ps(x + i), a0);
            a1 = _mm512_fmadd_ps(load_f16x16(row + 2 * i + 32), _mm512_loadu_ps(x + i + 16), a1);
        }
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        for (; i < n; i++) sum += _cvtsh_ss(load_u16(row + 2 * i)) * x[i];
        y[r] = sum;
    }
}

// One 512-bit load is one block of 32 bf16: its words' low halves (shifted up) are the block's
// evens, split[0..16), the high halves (masked) its odds, split[16..32). The low 256 bits of
// `evens`/`odds` sum exactly what the AVX2 body's a0/a1 do, the high ones its a2/a3, in the same
// order, and they are reduced as it does: the two bodies give the same bits.
void moe_matvec_bf16_avx512(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m512 evens = _mm512_setzero_ps(), odds = _mm512_setzero_ps();
        int i = 0;
        for (; i + 32 <= n; i += 32) {
            _mm_prefetch((const char *)row + 2 * i + STREAM_PREFETCH_BYTES, STREAM_PREFETCH_HINT);
            const __m512i words = _mm512_loadu_si512((const void *)(row + 2 * i));
            evens = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(words, 16)), _mm512_loadu_ps(split + i), evens);
            odds = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(words, high)), _mm512_loadu_ps(split + i + 16), odds);
        }
        const __m512 pairs = _mm512_add_ps(evens, odds);
        float sum = moe_hsum8(_mm256_add_ps(_mm512_castps512_ps256(pairs), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(pairs), 1))));
        for (; i < n; i++) sum += bf16_bits_to_float(load_u16(row + 2 * i)) * x[i];
        y[r] = sum;
    }
}

// ---- Four far-apart rows a pass, 512-bit (chosen on AMD: Kernels.farRows512) ---------------------
// The f16 and bf16 bodies above read one row at a time with a software prefetch, and the f32 one
// four adjacent rows, which paid on the Intel Xeon they were tuned on; on a Zen 4 one core's f16
// decode streamed ~0.7 of what llama.cpp's did. These read four rows a quarter of the range apart
// in one pass (the AVX2 bodies' shape: on a Zen 3 four adjacent rows read ~12 GB/s where four far
// ones read ~23), no software prefetch, each row summed exactly as the one-row body sums it.
enum { FAR_ROWS_512 = 4 };

// f32 and f16 (`half` a constant where inlined): 16 elements widened to f32, and element t of a row.
static inline __m512 load16_avx512(const uint8_t *row, int i, const int half) {
    return half ? load_f16x16(row + 2 * i) : _mm512_loadu_ps((const float *)row + i);
}
static inline float element_avx512(const uint8_t *row, int t, const int half) {
    return half ? _cvtsh_ss(load_u16(row + 2 * t)) : ((const float *)row)[t];
}

// Each row summed as f32_row_avx512 / the one-row f16 body sums it (for f32 the adjacent-row body
// above gives the same bits): two accumulators, reduced as one vector, then the tail.
static inline __attribute__((always_inline)) void rows_avx512(const uint8_t *const *rows, const float *x, int n, float *const *out, const int S,
                                                              const int half) {
    __m512 a0[FAR_ROWS_512], a1[FAR_ROWS_512];
    for (int j = 0; j < S; j++) a0[j] = a1[j] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
        for (int j = 0; j < S; j++) {
            a0[j] = _mm512_fmadd_ps(load16_avx512(rows[j], i, half), x0, a0[j]);
            a1[j] = _mm512_fmadd_ps(load16_avx512(rows[j], i + 16, half), x1, a1[j]);
        }
    }
    for (int j = 0; j < S; j++) {
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0[j], a1[j]));
        for (int t = i; t < n; t++) sum += element_avx512(rows[j], t, half) * x[t];
        *out[j] = sum;
    }
}

static inline __attribute__((always_inline)) void bf16_rows_avx512(const uint8_t *const *rows, const float *split, const float *x, int n,
                                                                   float *const *out, const int S) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512 evens[FAR_ROWS_512], odds[FAR_ROWS_512];
    for (int j = 0; j < S; j++) evens[j] = odds[j] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 e = _mm512_loadu_ps(split + i), o = _mm512_loadu_ps(split + i + 16);
        for (int j = 0; j < S; j++) {
            const __m512i words = _mm512_loadu_si512((const void *)(rows[j] + 2 * i));
            evens[j] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(words, 16)), e, evens[j]);
            odds[j] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(words, high)), o, odds[j]);
        }
    }
    for (int j = 0; j < S; j++) {
        const __m512 pairs = _mm512_add_ps(evens[j], odds[j]);
        float sum = moe_hsum8(_mm256_add_ps(_mm512_castps512_ps256(pairs), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(pairs), 1))));
        for (int t = i; t < n; t++) sum += bf16_bits_to_float(load_u16(rows[j] + 2 * t)) * x[t];
        *out[j] = sum;
    }
}

void moe_matvec_f32_avx512_far(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    MOE_FAR_ROWS(FAR_ROWS_512, rows_avx512(far_rows, x, n, far_out, far_count, 0));
}

void moe_matvec_f16_avx512_far(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end) {
    MOE_FAR_ROWS(FAR_ROWS_512, rows_avx512(far_rows, x, n, far_out, far_count, 1));
}

void moe_matvec_bf16_avx512_far(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end) {
    MOE_FAR_ROWS(FAR_ROWS_512, bf16_rows_avx512(far_rows, split, x, n, far_out, far_count));
}

#pragma clang attribute pop

#else
// Not x86-64 (or not clang): never chosen, since moe_cpu_has_avx512() is 0.
int moe_cpu_has_avx512(void) { return 0; }
MOE_ELEMENT_MATVECS_CALLING(_avx512, )
MOE_ELEMENT_MATVECS_CALLING(_avx512_far, )
#endif
