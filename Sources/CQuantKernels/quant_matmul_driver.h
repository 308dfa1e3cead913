// The loop every batched kernel shares (quant_matmul_body.h, quant_matmul_vnni.c,
// quant_kernels_k_vnni.c): rows in tiles that stay in the core's L2, and inside a tile the tokens
// a group at a time, each row of the tile dotted with the group's tokens by
// `group(row, x, blocks, scales, y, ldy, G)` — an always-inline function whose token count G is a
// constant at each call, so its per-token accumulators live in registers. A tile is read from
// memory once and from L2 once per group of tokens.
#ifndef MOEPP_QUANT_MATMUL_DRIVER_H
#define MOEPP_QUANT_MATMUL_DRIVER_H

#include <stddef.h>

// Tiles of 256 KiB of weights: 64–1024 KiB measured the same (stand-alone harness, one core).
// Groups of four tokens (MOE_MATMUL_GROUP); the K formats' VNNI kernels, whose 512-bit weight
// unpacking costs more per block, take eight (MOE_MATMUL_WIDE_GROUP).
enum { MOE_MATMUL_GROUP = 4, MOE_MATMUL_WIDE_GROUP = 8, MOE_MATMUL_TILE_BYTES = 256 << 10 };

#define MOE_MATMUL_CALL(group, context, k) case k: group(row, xt, blocks, context, yt + r, ldy, k); break;
#define MOE_MATMUL_CASES_4(group, context) MOE_MATMUL_CALL(group, context, 4) MOE_MATMUL_CALL(group, context, 3) \
    MOE_MATMUL_CALL(group, context, 2)
#define MOE_MATMUL_CASES_8(group, context) MOE_MATMUL_CALL(group, context, 8) MOE_MATMUL_CALL(group, context, 7) \
    MOE_MATMUL_CALL(group, context, 6) MOE_MATMUL_CALL(group, context, 5) MOE_MATMUL_CASES_4(group, context)

// Groups of four: before a group's rows, its tokens' activation scales are gathered four to a
// block (scales[4b + i] = d of token i's block b, zero past the group's end): the 32-wide kernels
// then form the four products d_w·d_x of a block with one vector multiply instead of one per token.
// Groups of eight (the K formats, one float multiply-add per 256 elements) gather nothing: their
// group functions get NULL. (No variable-length array there either: at -O0 clang misaligned the
// 64-byte spills of the inlined 512-bit group beside one.)
#define MOE_MATMUL_SCALES_4 float scales[4 * blocks + 4]; /* + 4: never a zero-length array */
#define MOE_MATMUL_GATHER_4                                                                          \
    for (int b = 0; b < blocks; b++)                                                                 \
        for (int i = 0; i < 4; i++) scales[4 * b + i] = i < g ? xt[(size_t)i * blocks + b].d : 0;
#define MOE_MATMUL_SCALES_8 const float *scales = NULL;
#define MOE_MATMUL_GATHER_8

// The tile and group loop itself, inside a kernel whose w, row_bytes, x, tokens, y, ldy, row_begin,
// row_end and blocks are in scope: `prepare` runs once per tile and group (with xt and g, the
// group's first activation block and its token count, in scope), then `group(row, xt, blocks,
// context, y, ldy, G)` for each row of the tile. Also used directly by kernels that rearrange a
// group's activations into memory of their own (quant_matmul_vnni.c, Q8_0 block pairs).
#define MOE_MATMUL_TILES(XT, group, width, context, prepare)                                         \
    const int tile = row_bytes == 0 || row_bytes >= MOE_MATMUL_TILE_BYTES ? 1 : (int)(MOE_MATMUL_TILE_BYTES / row_bytes); \
    for (int r0 = row_begin; r0 < row_end; r0 += tile) {                                             \
        const int r1 = row_end - r0 < tile ? row_end : r0 + tile;                                    \
        for (int t = 0; t < tokens; t += (width)) {                                                  \
            const int g = tokens - t < (width) ? tokens - t : (width);                               \
            const XT *xt = x + (size_t)t * blocks;                                                   \
            prepare                                                                                  \
            float *yt = y + (size_t)t * ldy;                                                         \
            for (int r = r0; r < r1; r++) {                                                          \
                const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;                     \
                switch (g) {                                                                         \
                MOE_MATMUL_CASES_##width(group, context)                                             \
                default: group(row, xt, blocks, context, yt + r, ldy, 1); break;                     \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
    }

#define MOE_MATMUL_DEFINE_GROUPS(name, XT, block_elems, group, width)                                \
    void name(const void *w, size_t row_bytes, const XT *x, int n, int tokens, float *y, size_t ldy, \
              int row_begin, int row_end) {                                                          \
        const int blocks = n / (block_elems);                                                        \
        MOE_MATMUL_SCALES_##width                                                                    \
        MOE_MATMUL_TILES(XT, group, width, scales, MOE_MATMUL_GATHER_##width)                        \
    }

#define MOE_MATMUL_DEFINE(name, XT, block_elems, group) MOE_MATMUL_DEFINE_GROUPS(name, XT, block_elems, group, 4)

#endif
