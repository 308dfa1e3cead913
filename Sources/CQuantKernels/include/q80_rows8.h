// Q8_0 matrices with eight rows interleaved ("rows8"), built at load time like Q4_0's
// (q40_rows8.h; the why in q4k_rows8.h): a group of eight rows keeps the bytes the eight rows had
// (8 × row_bytes), so row r's group starts at w + (r / 8)·8·row_bytes.
//
// Group layout, per block b of 32 columns (272 bytes = 8 × 34, at group + 272·b):
//   [0, 16)      d of rows 0–7 (f16)
//   [16, 272)    four 64-byte chunks: chunk c holds quants 8c … 8c + 7 of each row, row r at 8r,
//                each stored + 128 (its sign bit flipped): unsigned, as vpdpbusd takes them
//
// Arithmetic, the same for every body and batch size, per row and block, in two halves h = 0, 1
// (the elements e with (e mod 8) / 4 = h — what one dword of vpdpbusd sums):
//   T_h = Σ_{e in half h} (w_e + 128)·q_e − 64·Σ_e q_e   (exact; T_0 + T_1 = Σ w·q)
//   acc_h = fma(T_h, d·dx, acc_h), and y = acc_0 + acc_1.
// So the scalar twin equals the VNNI bodies bit for bit, and a prompt's (row, token) result
// equals decoding's.
#ifndef MOEPP_Q80_ROWS8_H
#define MOEPP_Q80_ROWS8_H

#include "quant_kernels.h"

void moe_q80_rows8_pack(const void *src, size_t row_bytes, int n, void *dst);
void moe_q80_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst);

void moe_matvec_q8_0_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q8_0_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matmul_q8_0_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, int tokens, float *y, size_t ldy,
                                  int row_begin, int row_end);
void moe_matmul_q8_0_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, int tokens, float *y, size_t ldy,
                                int row_begin, int row_end);

#endif
