// Q6_K matrices with eight rows interleaved ("rows8"), built at load time like Q4_K's
// (q4k_rows8.h, where the why is): a group of eight rows keeps the bytes the eight rows had
// (8 × row_bytes), so row r's group starts at w + (r / 8)·8·row_bytes.
//
// Group layout, per block b of 256 columns (1680 bytes = 8 × 210, at group + 1680·b), in the
// order the kernels read it:
//   [0, 16)      d of rows 0–7 (f16)
//   [16, 144)    byte 8s + r: the int8 scale of sub-block s (16 elements) of row r
//   [144, 1680)  four 384-byte units u = 2h + j (h: half of the block, j: which 16 of its 32
//                columns per quarter), each six 64-byte chunks: qh chunks 4h + 2j, 4h + 2j + 1,
//                then ql chunks 8h + 2j, 8h + 2j + 1, 8h + 2j + 4, 8h + 2j + 5. ql chunk q holds
//                bytes 8q … 8q + 7 of each row's 128 ql bytes (low 4 bits), row r at 8r; qh chunk
//                p bytes 8p … 8p + 7 of each row's 64 qh bytes (high 2 bits).
// Why this order: read in a block's natural order (all ql, then all qh) the kernel jumps back
// and forth within the block, and from memory it ran at 7 GB/s on one Zen 4 core against 30 from
// cache, software prefetching or not; read front to back, 23–26 GB/s from memory.
//
// Element 128h + 32m + l (l < 32) is, as in Q6_K itself, the low (m = 0, 1) or high (m = 2, 3)
// nibble of ql[64h + 32·(m mod 2) + l] with bits 2m, 2m + 1 of qh[32h + l] on top, minus 32.
//
// Arithmetic, the same for every body and batch size, per row and block:
//   T = Σ_s scale_s·(Σ_i n_i·q_i − 32·bsums[s]) exactly in integers, acc = fma(d·dx, T, acc),
//   and y = acc. So the scalar twin equals the VNNI bodies bit for bit, and a prompt's (row,
//   token) result equals decoding's.
#ifndef MOEPP_Q6K_ROWS8_H
#define MOEPP_Q6K_ROWS8_H

#include "quant_kernels.h"

void moe_q6k_rows8_pack(const void *src, size_t row_bytes, int n, void *dst);
void moe_q6k_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst);

void moe_matvec_q6_k_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q6_k_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matmul_q6_k_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, int tokens, float *y, size_t ldy,
                                  int row_begin, int row_end);
void moe_matmul_q6_k_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, int tokens, float *y, size_t ldy,
                                int row_begin, int row_end);

#endif
