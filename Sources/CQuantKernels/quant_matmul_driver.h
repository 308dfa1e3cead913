// The loop every batched kernel shares (quant_matmul_body.h, quant_matmul_vnni.c): rows in tiles
// that stay in the core's L2, and inside a tile the tokens four at a time, each row of the tile
// dotted with the group's tokens by `group(row, x, blocks, scales, y, ldy, G)` — an always-inline function
// whose token count G is a constant at each call, so its per-token accumulators live in registers.
// A tile is read from memory once and from L2 once per group of tokens.
#ifndef MOEPP_QUANT_MATMUL_DRIVER_H
#define MOEPP_QUANT_MATMUL_DRIVER_H

#include <stddef.h>

// Tiles of 256 KiB of weights: 64–1024 KiB measured the same (stand-alone harness, one core).
enum { MOE_MATMUL_GROUP = 4, MOE_MATMUL_TILE_BYTES = 256 << 10 };

// Before a group's rows, its tokens' activation scales are gathered four to a block (scales[4b + i]
// = d of token i's block b, zero past the group's end): the 32-wide kernels then form the four
// products d_w·d_x of a block with one vector multiply instead of one per token.
#define MOE_MATMUL_DEFINE(name, XT, block_elems, group)                                              \
    void name(const void *w, size_t row_bytes, const XT *x, int n, int tokens, float *y, size_t ldy, \
              int row_begin, int row_end) {                                                          \
        const int blocks = n / (block_elems);                                                        \
        const int tile = row_bytes == 0 || row_bytes >= MOE_MATMUL_TILE_BYTES ? 1 : (int)(MOE_MATMUL_TILE_BYTES / row_bytes); \
        float scales[4 * blocks + 4]; /* + 4: never a zero-length array */                          \
        for (int r0 = row_begin; r0 < row_end; r0 += tile) {                                         \
            const int r1 = row_end - r0 < tile ? row_end : r0 + tile;                                \
            for (int t = 0; t < tokens; t += MOE_MATMUL_GROUP) {                                     \
                const int g = tokens - t < MOE_MATMUL_GROUP ? tokens - t : MOE_MATMUL_GROUP;         \
                const XT *xt = x + (size_t)t * blocks;                                               \
                for (int b = 0; b < blocks; b++)                                                     \
                    for (int i = 0; i < 4; i++) scales[4 * b + i] = i < g ? xt[(size_t)i * blocks + b].d : 0; \
                float *yt = y + (size_t)t * ldy;                                                     \
                for (int r = r0; r < r1; r++) {                                                      \
                    const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;                 \
                    switch (g) {                                                                     \
                    case 4: group(row, xt, blocks, scales, yt + r, ldy, 4); break;                   \
                    case 3: group(row, xt, blocks, scales, yt + r, ldy, 3); break;                   \
                    case 2: group(row, xt, blocks, scales, yt + r, ldy, 2); break;                   \
                    default: group(row, xt, blocks, scales, yt + r, ldy, 1); break;                  \
                    }                                                                                \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
    }

#endif
