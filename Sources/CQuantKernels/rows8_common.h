// What the rows8 kernels (q4k_rows8.c, q6k_rows8.c) share: the mask of a group's rows inside a
// row range, the fold of (row, pair) dword sums, the activation broadcast, and the entry points
// around a group kernel.
#ifndef MOEPP_ROWS8_COMMON_H
#define MOEPP_ROWS8_COMMON_H

#include <string.h>

// Rows of group `group` inside [row_begin, row_end), as a mask of its eight lanes: the partial
// groups at either end of a range are computed whole and stored through it.
static inline unsigned char rows8_keep(int group, int row_begin, int row_end) {
    const int lo = row_begin > 8 * group ? row_begin - 8 * group : 0;
    const int hi = row_end < 8 * group + 8 ? row_end - 8 * group : 8;
    return (unsigned char)((0xFF >> (8 - hi)) & (0xFF << lo));
}

// Dword index pairs that fold a sub-block pair's packed sums (dword 4L + q is row 2L + q % 2)
// into one lane per row: lane r = v[4(r / 2) + r % 2] + v[4(r / 2) + 2 + r % 2]; lanes 8–15 take
// a second vector's (row, half) pairs 2r, 2r + 1 (q4k_rows8.c's mins).
static inline void rows8_fold_indices(int even[16], int odd[16]) {
    for (int r = 0; r < 8; r++) {
        even[r] = 4 * (r / 2) + r % 2; odd[r] = even[r] + 2;
        even[8 + r] = 16 + 2 * r; odd[8 + r] = 17 + 2 * r;
    }
}

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

// Eight activation bytes in every 64-bit lane: what each row's eight bytes of a chunk meet.
static inline __attribute__((target("avx512f"))) __m512i rows8_broadcast8(const int8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return _mm512_set1_epi64(v);
}
#endif

// Tokens per group in the batched kernels: four measured a little faster than eight (whose sums spill).
enum { MOE_ROWS8_MAX_GROUP = 4 };

// A rows8 format's two entry points for one instruction set (activation blocks of `x_t`, `block_width` elements each)
// around its group kernel
// `group_fn(group, x, blocks, &indices, y, ldy, keep, G)` (eight rows × G tokens, G a constant
// once inlined): decode runs group after group; a prompt runs the groups in tiles of ~256 KiB
// that stay in L2 while up to MOE_ROWS8_MAX_GROUP tokens at a time pass over them. Inside the
// files' target attribute region, so that the group kernel inlines.
#define ROWS8_GROUP_ENTRY_POINTS(matvec, matmul, x_t, block_width, indices_t, indices_init, group_fn)                        \
    void matvec(const void *w, size_t row_bytes, const x_t *x, int n, float *y, int row_begin, int row_end) {               \
        indices_t ix;                                                                                                       \
        indices_init(&ix);                                                                                                  \
        for (int g = row_begin / 8; 8 * g < row_end; g++)                                                                   \
            group_fn((const uint8_t *)w + (size_t)g * 8 * row_bytes, x, n / (block_width), &ix, y + 8 * g, 0,               \
                     rows8_keep(g, row_begin, row_end), 1);                                                                 \
    }                                                                                                                       \
    void matmul(const void *w, size_t row_bytes, const x_t *x, int n, int tokens, float *y, size_t ldy,                     \
                int row_begin, int row_end) {                                                                               \
        indices_t ix;                                                                                                       \
        indices_init(&ix);                                                                                                  \
        const int blocks = n / (block_width);                                                                               \
        const size_t group_bytes = 8 * row_bytes;                                                                           \
        const int tile = group_bytes >= (256 << 10) ? 1 : (int)((256 << 10) / group_bytes);                                 \
        const int first = row_begin / 8, last = (row_end + 7) / 8;                                                          \
        for (int g0 = first; g0 < last; g0 += tile) {                                                                       \
            const int g1 = last - g0 < tile ? last : g0 + tile;                                                             \
            for (int t = 0; t < tokens; t += MOE_ROWS8_MAX_GROUP) {                                                         \
                const int count = tokens - t < MOE_ROWS8_MAX_GROUP ? tokens - t : MOE_ROWS8_MAX_GROUP;                      \
                const x_t *xt = x + (size_t)t * blocks;                                                                     \
                for (int g = g0; g < g1; g++) {                                                                             \
                    const uint8_t *group = (const uint8_t *)w + (size_t)g * group_bytes;                                    \
                    float *yg = y + (size_t)t * ldy + 8 * g;                                                                \
                    const unsigned char keep = rows8_keep(g, row_begin, row_end);                                           \
                    switch (count) {                                                                                        \
                    case 4: group_fn(group, xt, blocks, &ix, yg, ldy, keep, 4); break;                                      \
                    case 3: group_fn(group, xt, blocks, &ix, yg, ldy, keep, 3); break;                                      \
                    case 2: group_fn(group, xt, blocks, &ix, yg, ldy, keep, 2); break;                                      \
                    default: group_fn(group, xt, blocks, &ix, yg, ldy, keep, 1); break;                                     \
                    }                                                                                                       \
                }                                                                                                           \
            }                                                                                                               \
        }                                                                                                                   \
    }

// A rows8 format's scalar twins around its one-row dot product `dot_fn(group, lane, x, blocks)`.
#define ROWS8_SCALAR_ENTRY_POINTS(matvec, matmul, x_t, block_width, dot_fn)                                                 \
    void matmul(const void *w, size_t row_bytes, const x_t *x, int n, int tokens, float *y, size_t ldy,                     \
                int row_begin, int row_end) {                                                                               \
        const int blocks = n / (block_width);                                                                               \
        for (int t = 0; t < tokens; t++)                                                                                    \
            for (int r = row_begin; r < row_end; r++)                                                                       \
                y[(size_t)t * ldy + r] = dot_fn((const uint8_t *)w + (size_t)(r / 8) * 8 * row_bytes, r % 8,                \
                                                x + (size_t)t * blocks, blocks);                                            \
    }                                                                                                                       \
    void matvec(const void *w, size_t row_bytes, const x_t *x, int n, float *y, int row_begin, int row_end) {               \
        matmul(w, row_bytes, x, n, 1, y, 0, row_begin, row_end);                                                            \
    }

// Where there is no VNNI or AVX2 body (not x86-64, or not clang): defined as the scalar twins. The
// VNNI names are never chosen there (moe_cpu_has_vnni() is 0); Q4_K's AVX2 names are what the
// `.avx2` kernel path calls, which is the scalar path on such machines.
#define ROWS8_AS_SCALAR(matvec, matmul, x_t, matvec_scalar, matmul_scalar)                                             \
    void matvec(const void *w, size_t row_bytes, const x_t *x, int n, float *y, int row_begin, int row_end) {               \
        matvec_scalar(w, row_bytes, x, n, y, row_begin, row_end);                                                           \
    }                                                                                                                       \
    void matmul(const void *w, size_t row_bytes, const x_t *x, int n, int tokens, float *y, size_t ldy,                     \
                int row_begin, int row_end) {                                                                               \
        matmul_scalar(w, row_bytes, x, n, tokens, y, ldy, row_begin, row_end);                                              \
    }

#endif
