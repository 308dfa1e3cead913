// Stand-alone harness (not part of moepp): bf16 matrix-vector variants streaming a 2 GB pool of
// 8192x1536 bf16 matrices, 2 threads (each half the rows of a product, a barrier per product, as a
// decode step does), interleaved rounds, GB/s per round. Used to choose element_kernels.c's
// software prefetch (BENCHMARKS.md "Prefetch into L2").
// Build: clang -O2 -o /tmp/bf16-stream Scripts/bf16-stream-harness.c -lpthread
// Run:   ROUNDS=6 /tmp/bf16-stream KIND,DIST,HINT ...   e.g. 3,0,0 0,4096,0 0,4096,1
//   KIND 0: one row at a time, prefetch DIST bytes ahead (HINT 0 T0, 1 T1, 2 T2, 3 T1 + T0 at 512)
//   KIND 1: four adjacent rows per pass (T1 prefetch DIST ahead, 0: none); 2: prefetch the row DIST rows ahead (HINT 0 T0, 1 T1)
//   KIND 3: plain 4-stream read with T0 prefetch 2 KiB ahead (moepp's probe); 6: same with T1 4 KiB
//   KIND 4 / 5: four / two far-apart rows per pass (quarters / halves of the thread's rows)
//   KIND 7: f32, four rows per pass (the same bytes as 4096 rows of 1536 floats), T1 prefetch DIST ahead (0: none)
//   AVX2 only (CPUs without AVX-512), element_kernels.c's AVX2 bodies plus a prefetch DIST ahead (0: none; HINT 0 T0, 1 T1):
//   KIND 8: bf16 one row at a time; KIND 9: f16 one row at a time (the same bytes read as f16);
//   KIND 10: plain 4-stream AVX2 read, T0 prefetch DIST ahead (0: none); KIND 11 / 12: bf16, four / two far-apart rows per pass
//   KIND 13: bf16, DIST rows per pass (2–4) summed as KIND 8 sums one (same bits), far apart when HINT 1, adjacent when 0
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define ROWS 8192
#define COLS 1536
#define POOL_MB 2048
static int nmat; static uint8_t *pool; static float *split, *y[2];
static size_t matbytes;
static int variant;
static atomic_int gen, done_count;

__attribute__((target("avx512f,avx2,fma")))
static void v_one(const uint8_t *w, size_t rb, const float *s, int n, float *out, int r0, int r1, int pd, int hint) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * rb;
        __m512 e = _mm512_setzero_ps(), o = _mm512_setzero_ps();
        for (int i = 0; i + 32 <= n; i += 32) {
            if (pd) { if (hint == 0) _mm_prefetch((const char *)row + 2 * i + pd, _MM_HINT_T0); else if (hint == 1) _mm_prefetch((const char *)row + 2 * i + pd, _MM_HINT_T1); else if (hint == 2) _mm_prefetch((const char *)row + 2 * i + pd, _MM_HINT_T2); else if (hint == 3) { _mm_prefetch((const char *)row + 2 * i + pd, _MM_HINT_T1); _mm_prefetch((const char *)row + 2 * i + 512, _MM_HINT_T0); } else _mm_prefetch((const char *)row + 2 * i + pd, _MM_HINT_NTA); }
            const __m512i wd = _mm512_loadu_si512(row + 2 * i);
            e = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wd, 16)), _mm512_loadu_ps(s + i), e);
            o = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wd, high)), _mm512_loadu_ps(s + i + 16), o);
        }
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(e, o));
    }
}
// 4 rows per pass
__attribute__((target("avx512f,avx2,fma")))
static void v_four(const uint8_t *w, size_t rb, const float *s, int n, float *out, int r0, int r1, int pd) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    int r = r0;
    for (; r + 4 <= r1; r += 4) {
        const uint8_t *p0 = w + (size_t)r * rb, *p1 = p0 + rb, *p2 = p1 + rb, *p3 = p2 + rb;
        __m512 e0 = _mm512_setzero_ps(), o0 = e0, e1 = e0, o1 = e0, e2 = e0, o2 = e0, e3 = e0, o3 = e0;
        for (int i = 0; i + 32 <= n; i += 32) {
            if (pd) { _mm_prefetch((const char *)p0 + 2 * i + pd, _MM_HINT_T1); _mm_prefetch((const char *)p1 + 2 * i + pd, _MM_HINT_T1);
                      _mm_prefetch((const char *)p2 + 2 * i + pd, _MM_HINT_T1); _mm_prefetch((const char *)p3 + 2 * i + pd, _MM_HINT_T1); }
            const __m512 se = _mm512_loadu_ps(s + i), so = _mm512_loadu_ps(s + i + 16);
            __m512i w0 = _mm512_loadu_si512(p0 + 2 * i), w1 = _mm512_loadu_si512(p1 + 2 * i), w2 = _mm512_loadu_si512(p2 + 2 * i), w3 = _mm512_loadu_si512(p3 + 2 * i);
            e0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(w0, 16)), se, e0); o0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(w0, high)), so, o0);
            e1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(w1, 16)), se, e1); o1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(w1, high)), so, o1);
            e2 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(w2, 16)), se, e2); o2 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(w2, high)), so, o2);
            e3 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(w3, 16)), se, e3); o3 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(w3, high)), so, o3);
        }
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(e0, o0)); out[r+1] = _mm512_reduce_add_ps(_mm512_add_ps(e1, o1));
        out[r+2] = _mm512_reduce_add_ps(_mm512_add_ps(e2, o2)); out[r+3] = _mm512_reduce_add_ps(_mm512_add_ps(e3, o3));
    }
    if (r < r1) v_one(w, rb, s, n, out, r, r1, pd, 0);
}
// Whole-chunk ahead: prefetch the row `ahead` rows later, one line per 64 bytes consumed.
__attribute__((target("avx512f,avx2,fma")))
static void v_rowahead(const uint8_t *w, size_t rb, const float *s, int n, float *out, int r0, int r1, int ahead, int hint) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * rb;
        const uint8_t *pf = row + (size_t)ahead * rb;
        __m512 e = _mm512_setzero_ps(), o = _mm512_setzero_ps();
        for (int i = 0; i + 32 <= n; i += 32) {
            if (hint == 0) _mm_prefetch((const char *)pf + 2 * i, _MM_HINT_T0); else _mm_prefetch((const char *)pf + 2 * i, _MM_HINT_T1);
            const __m512i wd = _mm512_loadu_si512(row + 2 * i);
            e = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wd, 16)), _mm512_loadu_ps(s + i), e);
            o = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wd, high)), _mm512_loadu_ps(s + i + 16), o);
        }
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(e, o));
    }
}
// S far-apart streams: rows r, r+Q, r+2Q, r+3Q of the range side by side.
__attribute__((target("avx512f,avx2,fma")))
static void v_far(const uint8_t *w, size_t rb, const float *s, int n, float *out, int r0, int r1, int pd, int hint, int S) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    int Q = (r1 - r0) / S;
    for (int k = 0; k < Q; k++) {
        const uint8_t *p[4]; __m512 e[4], o[4];
        for (int j = 0; j < S; j++) { p[j] = w + (size_t)(r0 + j * Q + k) * rb; e[j] = _mm512_setzero_ps(); o[j] = e[j]; }
        for (int i = 0; i + 32 <= n; i += 32) {
            const __m512 se = _mm512_loadu_ps(s + i), so = _mm512_loadu_ps(s + i + 16);
            #pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++) { if (j >= S) break;
                if (pd) { if (hint) _mm_prefetch((const char *)p[j] + 2 * i + pd, _MM_HINT_T1); else _mm_prefetch((const char *)p[j] + 2 * i + pd, _MM_HINT_T0); }
                __m512i wd = _mm512_loadu_si512(p[j] + 2 * i);
                e[j] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wd, 16)), se, e[j]);
                o[j] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wd, high)), so, o[j]);
            }
        }
        for (int j = 0; j < S; j++) out[r0 + j * Q + k] = _mm512_reduce_add_ps(_mm512_add_ps(e[j], o[j]));
    }
}
// f32 rows, four per pass (as element_kernels.c moe_matvec_f32_avx512), the same bytes read as
// 4096 rows of 1536 floats; optional prefetch DIST ahead into L2 for each of the four rows.
__attribute__((target("avx512f,avx2,fma")))
static void v_f32four(const uint8_t *w, const float *x, int n, float *out, int r0, int r1, int pd) {
    const size_t rb = (size_t)n * 4;
    for (int r = r0; r + 4 <= r1; r += 4) {
        const float *p0 = (const float *)(w + (size_t)r * rb), *p1 = p0 + n, *p2 = p1 + n, *p3 = p2 + n;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        for (int i = 0; i + 32 <= n; i += 32) {
            if (pd) { _mm_prefetch((const char *)(p0 + i) + pd, _MM_HINT_T1); _mm_prefetch((const char *)(p1 + i) + pd, _MM_HINT_T1);
                      _mm_prefetch((const char *)(p2 + i) + pd, _MM_HINT_T1); _mm_prefetch((const char *)(p3 + i) + pd, _MM_HINT_T1);
                      _mm_prefetch((const char *)(p0 + i) + pd + 64, _MM_HINT_T1); _mm_prefetch((const char *)(p1 + i) + pd + 64, _MM_HINT_T1);
                      _mm_prefetch((const char *)(p2 + i) + pd + 64, _MM_HINT_T1); _mm_prefetch((const char *)(p3 + i) + pd + 64, _MM_HINT_T1); }
            const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p0 + i), x0, a0); b0 = _mm512_fmadd_ps(_mm512_loadu_ps(p1 + i), x0, b0);
            c0 = _mm512_fmadd_ps(_mm512_loadu_ps(p2 + i), x0, c0); d0 = _mm512_fmadd_ps(_mm512_loadu_ps(p3 + i), x0, d0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p0 + i + 16), x1, a1); b1 = _mm512_fmadd_ps(_mm512_loadu_ps(p1 + i + 16), x1, b1);
            c1 = _mm512_fmadd_ps(_mm512_loadu_ps(p2 + i + 16), x1, c1); d1 = _mm512_fmadd_ps(_mm512_loadu_ps(p3 + i + 16), x1, d1);
        }
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)); out[r + 1] = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
        out[r + 2] = _mm512_reduce_add_ps(_mm512_add_ps(c0, c1)); out[r + 3] = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
    }
}
static inline void pf(const uint8_t *p, int hint) { if (hint) _mm_prefetch((const char *)p, _MM_HINT_T1); else _mm_prefetch((const char *)p, _MM_HINT_T0); }
__attribute__((target("avx2,fma")))
static float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s)); s = _mm_add_ss(s, _mm_movehdup_ps(s)); return _mm_cvtss_f32(s);
}
__attribute__((target("avx2,fma")))
static void v_bf16_avx2(const uint8_t *w, size_t rb, const float *s, int n, float *out, int r0, int r1, int pd, int hint) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * rb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i + 32 <= n; i += 32) {
            if (pd) pf(row + 2 * i + pd, hint);
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(row + 2 * i)), w1 = _mm256_loadu_si256((const __m256i *)(row + 2 * i + 32));
            a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w0, 16)), _mm256_loadu_ps(s + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w0, high)), _mm256_loadu_ps(s + i + 16), a1);
            a2 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w1, 16)), _mm256_loadu_ps(s + i + 8), a2);
            a3 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w1, high)), _mm256_loadu_ps(s + i + 24), a3);
        }
        out[r] = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}
__attribute__((target("avx2,fma,f16c")))
static void v_f16_avx2(const uint8_t *w, size_t rb, const float *x, int n, float *out, int r0, int r1, int pd, int hint) {
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * rb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i + 32 <= n; i += 32) {
            if (pd) pf(row + 2 * i + pd, hint);
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * i))), _mm256_loadu_ps(x + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * i + 16))), _mm256_loadu_ps(x + i + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * i + 32))), _mm256_loadu_ps(x + i + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * i + 48))), _mm256_loadu_ps(x + i + 24), a3);
        }
        out[r] = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}
// S far-apart rows per pass (the thread's rows cut in S parts), as v_far at 256-bit width.
__attribute__((target("avx2,fma")))
static void v_far_avx2(const uint8_t *w, size_t rb, const float *s, int n, float *out, int r0, int r1, int pd, int hint, int S) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    int Q = (r1 - r0) / S;
    for (int k = 0; k < Q; k++) {
        const uint8_t *p[4]; __m256 e[4], o[4];
        for (int j = 0; j < S; j++) { p[j] = w + (size_t)(r0 + j * Q + k) * rb; e[j] = _mm256_setzero_ps(); o[j] = e[j]; }
        for (int i = 0; i + 16 <= n; i += 16) {
            const __m256 se = _mm256_loadu_ps(s + (i & ~31) + (i & 16 ? 8 : 0)), so = _mm256_loadu_ps(s + (i & ~31) + (i & 16 ? 24 : 16));
            #pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++) { if (j >= S) break;
                if (pd && (i & 16) == 0) pf(p[j] + 2 * i + pd, hint);
                __m256i wd = _mm256_loadu_si256((const __m256i *)(p[j] + 2 * i));
                e[j] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(wd, 16)), se, e[j]);
                o[j] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(wd, high)), so, o[j]);
            }
        }
        for (int j = 0; j < S; j++) out[r0 + j * Q + k] = hsum8(_mm256_add_ps(e[j], o[j]));
    }
}
// S rows per pass summed exactly as v_bf16_avx2 (four accumulators per row, same order, same bits):
// far-apart (the thread's rows in S parts) when FAR, else S adjacent rows.
__attribute__((target("avx2,fma"), always_inline))
static inline void exact_rows(const uint8_t *const *p, const float *s, int n, float *const *out, const int S) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 a[4][4];
    for (int j = 0; j < S; j++) for (int k = 0; k < 4; k++) a[j][k] = _mm256_setzero_ps();
    for (int i = 0; i + 32 <= n; i += 32) {
        #pragma clang loop unroll(full)
        for (int j = 0; j < 4; j++) { if (j >= S) break;
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(p[j] + 2 * i)), w1 = _mm256_loadu_si256((const __m256i *)(p[j] + 2 * i + 32));
            a[j][0] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w0, 16)), _mm256_loadu_ps(s + i), a[j][0]);
            a[j][1] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w0, high)), _mm256_loadu_ps(s + i + 16), a[j][1]);
            a[j][2] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w1, 16)), _mm256_loadu_ps(s + i + 8), a[j][2]);
            a[j][3] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w1, high)), _mm256_loadu_ps(s + i + 24), a[j][3]);
        }
    }
    for (int j = 0; j < S; j++) *out[j] = hsum8(_mm256_add_ps(_mm256_add_ps(a[j][0], a[j][1]), _mm256_add_ps(a[j][2], a[j][3])));
}
__attribute__((target("avx2,fma")))
static void v_exact(const uint8_t *w, size_t rb, const float *s, int n, float *out, int r0, int r1, int S, int far) {
    int Q = (r1 - r0) / S;
    for (int k = 0; k < Q; k++) {
        const uint8_t *p[4]; float *o[4];
        for (int j = 0; j < S; j++) { int r = far ? r0 + j * Q + k : r0 + S * k + j; p[j] = w + (size_t)r * rb; o[j] = out + r; }
        if (S == 4) exact_rows(p, s, n, o, 4); else if (S == 3) exact_rows(p, s, n, o, 3); else exact_rows(p, s, n, o, 2);
    }
}
__attribute__((target("avx2")))
static uint64_t readsum_avx2(const uint8_t *p, size_t bytes, int ahead) {
    size_t q = bytes / 4; const uint8_t *s0 = p, *s1 = p + q, *s2 = p + 2*q, *s3 = p + 3*q;
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i < q; i += 64) {
        if (ahead) { pf(s0 + i + ahead, 0); pf(s1 + i + ahead, 0); pf(s2 + i + ahead, 0); pf(s3 + i + ahead, 0); }
        a = _mm256_add_epi64(a, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s0 + i)), _mm256_load_si256((const __m256i *)(s0 + i + 32))));
        b = _mm256_add_epi64(b, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s1 + i)), _mm256_load_si256((const __m256i *)(s1 + i + 32))));
        c = _mm256_add_epi64(c, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s2 + i)), _mm256_load_si256((const __m256i *)(s2 + i + 32))));
        d = _mm256_add_epi64(d, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s3 + i)), _mm256_load_si256((const __m256i *)(s3 + i + 32))));
    }
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    uint64_t l[4]; _mm256_storeu_si256((__m256i *)l, a); return l[0] + l[1] + l[2] + l[3];
}
__attribute__((target("avx512f")))
static uint64_t readsum(const uint8_t *p, size_t bytes, int read_hint) {
    // read_hint 0: T0 prefetch 2 KiB ahead (moepp's probe); 1: T1 prefetch 4 KiB ahead.
    const size_t ahead = read_hint ? 4096 : 2048;
    size_t q = bytes / 4; const uint8_t *s0 = p, *s1 = p + q, *s2 = p + 2*q, *s3 = p + 3*q;
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (size_t i = 0; i < q; i += 128) {
        if (read_hint) {
            _mm_prefetch((const char *)s0 + i + ahead, _MM_HINT_T1); _mm_prefetch((const char *)s1 + i + ahead, _MM_HINT_T1);
            _mm_prefetch((const char *)s2 + i + ahead, _MM_HINT_T1); _mm_prefetch((const char *)s3 + i + ahead, _MM_HINT_T1);
        } else {
            _mm_prefetch((const char *)s0 + i + ahead, _MM_HINT_T0); _mm_prefetch((const char *)s1 + i + ahead, _MM_HINT_T0);
            _mm_prefetch((const char *)s2 + i + ahead, _MM_HINT_T0); _mm_prefetch((const char *)s3 + i + ahead, _MM_HINT_T0);
        }
        a = _mm512_add_epi64(a, _mm512_add_epi64(_mm512_load_si512(s0 + i), _mm512_load_si512(s0 + i + 64)));
        b = _mm512_add_epi64(b, _mm512_add_epi64(_mm512_load_si512(s1 + i), _mm512_load_si512(s1 + i + 64)));
        c = _mm512_add_epi64(c, _mm512_add_epi64(_mm512_load_si512(s2 + i), _mm512_load_si512(s2 + i + 64)));
        d = _mm512_add_epi64(d, _mm512_add_epi64(_mm512_load_si512(s3 + i), _mm512_load_si512(s3 + i + 64)));
    }
    return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
}
static volatile uint64_t sink;
static int kinds[32], pds[32], hints[32];
static void work(int t, int m) {
    const uint8_t *w = pool + (size_t)m * matbytes;
    int half = ROWS / 2, r0 = t * half, r1 = r0 + half;
    int K = kinds[variant], P = pds[variant], H = hints[variant];
    if (K == 0) { v_one(w, COLS * 2, split, COLS, y[t], r0, r1, P, H); return; }
    if (K == 1) { v_four(w, COLS * 2, split, COLS, y[t], r0, r1, P); return; }
    if (K == 2) { v_rowahead(w, COLS * 2, split, COLS, y[t], r0, r1, P, H); return; }
    if (K == 4) { v_far(w, COLS * 2, split, COLS, y[t], r0, r1, P, H, 4); return; }
    if (K == 5) { v_far(w, COLS * 2, split, COLS, y[t], r0, r1, P, H, 2); return; }
    if (K == 6) { sink += readsum(w + (size_t)t * matbytes / 2, matbytes / 2, 1); return; }
    if (K == 7) { v_f32four(w, split, COLS, y[t], t * (ROWS / 4), t * (ROWS / 4) + ROWS / 4, P); return; }
    if (K == 3) { sink += readsum(w + (size_t)t * matbytes / 2, matbytes / 2, 0); return; }
    if (K == 8) { v_bf16_avx2(w, COLS * 2, split, COLS, y[t], r0, r1, P, H); return; }
    if (K == 9) { v_f16_avx2(w, COLS * 2, split, COLS, y[t], r0, r1, P, H); return; }
    if (K == 11) { v_far_avx2(w, COLS * 2, split, COLS, y[t], r0, r1, P, H, 4); return; }
    if (K == 12) { v_far_avx2(w, COLS * 2, split, COLS, y[t], r0, r1, P, H, 2); return; }
    if (K == 13) { v_exact(w, COLS * 2, split, COLS, y[t], r0, r1, P ? P : 4, H); return; }
    if (K == 10) { sink += readsum_avx2(w + (size_t)t * matbytes / 2, matbytes / 2, P); return; }
}
static void *worker(void *arg) {
    (void)arg; int seen = 0;
    for (;;) {
        int g; while ((g = atomic_load(&gen)) == seen) _mm_pause();
        if (g < 0) return NULL;
        seen = g; work(1, (g - 1) % nmat); atomic_fetch_add(&done_count, 1);
    }
}
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    matbytes = (size_t)ROWS * COLS * 2; nmat = (int)((size_t)POOL_MB * 1048576 / matbytes);
    size_t total = (size_t)nmat * matbytes;
    pool = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(pool, total, MADV_HUGEPAGE);
    for (size_t i = 0; i < total; i += 2) { uint16_t v = (uint16_t)(0x3f80 + (i >> 7) % 64); memcpy(pool + i, &v, 2); }
    split = aligned_alloc(64, COLS * 4); for (int i = 0; i < COLS; i++) split[i] = 0.001f * i;
    y[0] = aligned_alloc(64, ROWS * 4); y[1] = aligned_alloc(64, ROWS * 4);
    pthread_t th; pthread_create(&th, NULL, worker, NULL);
    int vars[32], nv = 0; for (int i = 1; i < argc && nv < 32; i++) { sscanf(argv[i], "%d,%d,%d", &kinds[nv], &pds[nv], &hints[nv]); vars[nv] = nv; nv++; }
    int rounds = getenv("ROUNDS") ? atoi(getenv("ROUNDS")) : 5;
    if (rounds < 1 || rounds > 8 || nv < 1 || nv > 32) { fprintf(stderr, "1-32 variants, ROUNDS 1-8\n"); return 1; } double res[32][8];
    int g = 0;
    for (int round = 0; round < rounds; round++) for (int v = 0; v < nv; v++) {
        variant = vars[v];
        double t0 = now();
        for (int m = 0; m < nmat; m++) {
            atomic_store(&done_count, 0); atomic_store(&gen, ++g);
            work(0, (g - 1) % nmat);
            while (atomic_load(&done_count) < 1) _mm_pause();
        }
        res[v][round] = total / (now() - t0) / 1e9;
    }
    for (int v = 0; v < nv; v++) { printf("%d,%d,%d:", kinds[v], pds[v], hints[v]); for (int r = 0; r < rounds; r++) printf(" %5.1f", res[v][r]); printf("\n"); }
    atomic_store(&gen, -1); pthread_join(th, NULL);
}
