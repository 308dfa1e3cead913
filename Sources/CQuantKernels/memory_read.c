// Read kernels of the bandwidth probe (see memory_read.h). Integer adds (vpaddq), so a sum is
// exact in any order and each body equals the scalar twin bit for bit.
#include "cpu_override.h"
#include "memory_read.h"
#include <string.h>
#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#endif

uint64_t moe_read_sum_scalar(const void *p, size_t bytes) {
    const unsigned char *b = p;
    uint64_t sum = 0;
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        uint64_t word;
        memcpy(&word, b + i, 8);
        sum += word;
    }
    return sum;
}

#if defined(__x86_64__) && defined(__clang__)

// [begin, end) of the whole `block`-byte steps (128, 256 or 512) from the first 64-byte boundary inside [p, p + bytes): the vector
// loop reads those, the ends go word by word.
static void aligned_span(const unsigned char *p, size_t bytes, size_t block, size_t *begin, size_t *end) {
    size_t head = (size_t)((64 - ((uintptr_t)p & 63)) & 63);
    if (head > bytes) head = bytes - bytes % 8;
    head -= head % 8;   // p is 8-byte aligned, so head is already a multiple of 8
    *begin = head;
    *end = head + (bytes - head) / block * block;
}

static uint64_t ends(const unsigned char *p, size_t bytes, size_t begin, size_t end) {
    return moe_read_sum_scalar(p, begin) + moe_read_sum_scalar(p + end, bytes - end);
}

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
static uint64_t read_avx2(const unsigned char *p, size_t bytes) {
    size_t begin, end;
    aligned_span(p, bytes, 128, &begin, &end);
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = begin; i < end; i += 128) {
        a = _mm256_add_epi64(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_add_epi64(b, _mm256_load_si256((const __m256i *)(p + i + 32)));
        c = _mm256_add_epi64(c, _mm256_load_si256((const __m256i *)(p + i + 64)));
        d = _mm256_add_epi64(d, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, a);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + ends(p, bytes, begin, end);
}

// One stream with software prefetch 4 KiB ahead: the AVX-512 kernel's loop at 256-bit width.
static uint64_t read_avx2_prefetch(const unsigned char *p, size_t bytes) {
    size_t begin, end;
    aligned_span(p, bytes, 128, &begin, &end);
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = begin; i < end; i += 128) {
        _mm_prefetch((const char *)p + i + 4096, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + 4096 + 64, _MM_HINT_T0);
        a = _mm256_add_epi64(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_add_epi64(b, _mm256_load_si256((const __m256i *)(p + i + 32)));
        c = _mm256_add_epi64(c, _mm256_load_si256((const __m256i *)(p + i + 64)));
        d = _mm256_add_epi64(d, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, a);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + ends(p, bytes, begin, end);
}

// Four streams (the quarters of the aligned span, as read_avx512_streams), 64 bytes of each per
// step, optionally each prefetched 2 KiB ahead.
static uint64_t read_avx2_streams(const unsigned char *p, size_t bytes, int prefetch) {
    size_t begin, end;
    aligned_span(p, bytes, 256, &begin, &end);
    size_t quarter = (end - begin) / 4;
    const unsigned char *s0 = p + begin, *s1 = s0 + quarter, *s2 = s1 + quarter, *s3 = s2 + quarter;
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i < quarter; i += 64) {
        if (prefetch) {
            _mm_prefetch((const char *)s0 + i + 2048, _MM_HINT_T0);
            _mm_prefetch((const char *)s1 + i + 2048, _MM_HINT_T0);
            _mm_prefetch((const char *)s2 + i + 2048, _MM_HINT_T0);
            _mm_prefetch((const char *)s3 + i + 2048, _MM_HINT_T0);
        }
        a = _mm256_add_epi64(a, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s0 + i)), _mm256_load_si256((const __m256i *)(s0 + i + 32))));
        b = _mm256_add_epi64(b, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s1 + i)), _mm256_load_si256((const __m256i *)(s1 + i + 32))));
        c = _mm256_add_epi64(c, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s2 + i)), _mm256_load_si256((const __m256i *)(s2 + i + 32))));
        d = _mm256_add_epi64(d, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(s3 + i)), _mm256_load_si256((const __m256i *)(s3 + i + 32))));
    }
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, a);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + ends(p, bytes, begin, end);
}
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,avx512f"))), apply_to = function)
static uint64_t read_avx512(const unsigned char *p, size_t bytes, int prefetch) {
    size_t begin, end;
    aligned_span(p, bytes, 256, &begin, &end);
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    if (prefetch) {
        for (size_t i = begin; i < end; i += 256) {
            // Beyond the range is harmless: a prefetch never faults.
            _mm_prefetch((const char *)p + i + 4096, _MM_HINT_T0);
            _mm_prefetch((const char *)p + i + 4096 + 128, _MM_HINT_T0);
            a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
            b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
            c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
            d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
        }
    } else {
        for (size_t i = begin; i < end; i += 256) {
            a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
            b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
            c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
            d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
        }
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)))
        + ends(p, bytes, begin, end);
}

// Four streams: the aligned span cut in quarters (each a whole number of 128-byte steps), read
// side by side, so four independent sequential streams are in flight per core.
static uint64_t read_avx512_streams(const unsigned char *p, size_t bytes, int prefetch) {
    size_t begin, end;
    aligned_span(p, bytes, 512, &begin, &end);
    size_t quarter = (end - begin) / 4;
    const unsigned char *s0 = p + begin, *s1 = s0 + quarter, *s2 = s1 + quarter, *s3 = s2 + quarter;
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (size_t i = 0; i < quarter; i += 128) {
        if (prefetch) {
            _mm_prefetch((const char *)s0 + i + 2048, _MM_HINT_T0);
            _mm_prefetch((const char *)s1 + i + 2048, _MM_HINT_T0);
            _mm_prefetch((const char *)s2 + i + 2048, _MM_HINT_T0);
            _mm_prefetch((const char *)s3 + i + 2048, _MM_HINT_T0);
        }
        a = _mm512_add_epi64(a, _mm512_add_epi64(_mm512_load_si512(s0 + i), _mm512_load_si512(s0 + i + 64)));
        b = _mm512_add_epi64(b, _mm512_add_epi64(_mm512_load_si512(s1 + i), _mm512_load_si512(s1 + i + 64)));
        c = _mm512_add_epi64(c, _mm512_add_epi64(_mm512_load_si512(s2 + i), _mm512_load_si512(s2 + i + 64)));
        d = _mm512_add_epi64(d, _mm512_add_epi64(_mm512_load_si512(s3 + i), _mm512_load_si512(s3 + i + 64)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)))
        + ends(p, bytes, begin, end);
}
#pragma clang attribute pop

static int has_avx512(void) {
    __builtin_cpu_init();
    return moe_cpu_avx512_allowed() && __builtin_cpu_supports("avx512f");
}

int moe_read_variant_available(int variant) {
    switch (variant) {
    case MOE_READ_SCALAR: return 1;
    case MOE_READ_AVX2: case MOE_READ_AVX2_PREFETCH:
    case MOE_READ_AVX2_STREAMS: case MOE_READ_AVX2_STREAMS_PREFETCH: return __builtin_cpu_supports("avx2");
    case MOE_READ_AVX512: case MOE_READ_AVX512_PREFETCH:
    case MOE_READ_AVX512_STREAMS: case MOE_READ_AVX512_STREAMS_PREFETCH: return has_avx512();
    default: return 0;
    }
}

uint64_t moe_read_sum(const void *p, size_t bytes, int variant) {
    const unsigned char *b = p;
    switch (variant) {
    case MOE_READ_AVX2: return read_avx2(b, bytes);
    case MOE_READ_AVX2_PREFETCH: return read_avx2_prefetch(b, bytes);
    case MOE_READ_AVX2_STREAMS: return read_avx2_streams(b, bytes, 0);
    case MOE_READ_AVX2_STREAMS_PREFETCH: return read_avx2_streams(b, bytes, 1);
    case MOE_READ_AVX512: return read_avx512(b, bytes, 0);
    case MOE_READ_AVX512_PREFETCH: return read_avx512(b, bytes, 1);
    case MOE_READ_AVX512_STREAMS: return read_avx512_streams(b, bytes, 0);
    case MOE_READ_AVX512_STREAMS_PREFETCH: return read_avx512_streams(b, bytes, 1);
    default: return moe_read_sum_scalar(p, bytes);
    }
}

#else
// Not x86-64 (or not clang): the scalar body only.
int moe_read_variant_available(int variant) { return variant == MOE_READ_SCALAR; }
uint64_t moe_read_sum(const void *p, size_t bytes, int variant) { (void)variant; return moe_read_sum_scalar(p, bytes); }
#endif
