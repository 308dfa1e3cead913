// Rows [row_begin, row_end) of a matvec G at a time, far apart: the range cut in G parts and row k
// of every part read in one pass, then the last (row_end − row_begin) mod G rows one at a time.
// One row at a time is one sequential stream per core, too few lines in flight on the AMD CPUs
// measured (BENCHMARKS.md "AVX2-only CPUs", "A Zen 4 with AVX-512"); G far rows are G streams.
// Shared by every far-row body (element_kernels.c, quant_kernels_body.h, quant_kernels_vnni.c),
// which differ only in how they sum a group of rows.
#ifndef MOEPP_FAR_ROWS_H
#define MOEPP_FAR_ROWS_H

#include <stddef.h>
#include <stdint.h>

// Runs `call` once per group with far_rows (const uint8_t *const *, the rows' first bytes),
// far_out (float *const *, where each row's sum goes) and far_count (G, or 1 for the last rows)
// in scope; `w`, `row_bytes`, `y`, `row_begin` and `row_end` are the matvec's own arguments.
// far_count is a constant in each expansion, so an always_inline `call` keeps its sums in registers.
#define MOE_FAR_ROWS(G, call)                                                                      \
    do {                                                                                           \
        const int far_part = (row_end - row_begin) / (G);                                          \
        for (int far_k = 0; far_k < far_part; far_k++) {                                           \
            const uint8_t *far_group[G];                                                           \
            float *far_sums[G];                                                                    \
            for (int far_j = 0; far_j < (G); far_j++) {                                            \
                const int far_r = row_begin + far_j * far_part + far_k;                            \
                far_group[far_j] = (const uint8_t *)w + (size_t)far_r * row_bytes;                 \
                far_sums[far_j] = y + far_r;                                                       \
            }                                                                                      \
            const uint8_t *const *far_rows = far_group;                                            \
            float *const *far_out = far_sums;                                                      \
            const int far_count = (G);                                                             \
            call;                                                                                  \
        }                                                                                          \
        for (int far_r = row_begin + (G) * far_part; far_r < row_end; far_r++) {                   \
            const uint8_t *far_row = (const uint8_t *)w + (size_t)far_r * row_bytes;               \
            float *far_sum = y + far_r;                                                            \
            const uint8_t *const *far_rows = &far_row;                                             \
            float *const *far_out = &far_sum;                                                      \
            const int far_count = 1;                                                               \
            call;                                                                                  \
        }                                                                                          \
    } while (0)

#endif
