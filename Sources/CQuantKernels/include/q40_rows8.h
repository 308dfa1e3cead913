// Q4_0 matrices with eight rows interleaved ("rows8"), built at load time like Q4_K's (q4k_rows8.h,
// where the why is; llama.cpp repacks Q4_0 too): a group of eight rows keeps the bytes the eight
// rows had (8 × row_bytes), so row r's group starts at w + (r / 8)·8·row_bytes.
//
// Group layout, per block b of 32 columns (144 bytes = 8 × 18, at group + 144·b):
//   [0, 16)     d of rows 0–7 (f16)
//   [16, 80)    bytes 0–7 of each row's 16 quant bytes, row r at 16 + 8r
//   [80, 144)   bytes 8–15, row r at 80 + 8r
// Byte j of a row holds element j (low nibble) and element j + 16 (high nibble), each n − 8.
//
// Arithmetic, the same for every body and batch size, per row and block, in two halves h = 0, 1
// (the elements e with (e mod 8) / 4 = h — what one dword of vpdpbusd sums):
//   T_h = Σ_{e in half h} n_e·q_e − 4·Σ_e q_e   (exact; T_0 + T_1 is the block's Σ (n − 8)·q)
//   acc_h = fma(T_h, d·dx, acc_h), and y = acc_0 + acc_1.
// So the scalar twin equals the VNNI bodies bit for bit, and a prompt's (row, token) result
// equals decoding's.
#ifndef MOEPP_Q40_ROWS8_H
#define MOEPP_Q40_ROWS8_H

#include "quant_kernels.h"

void moe_q40_rows8_pack(const void *src, size_t row_bytes, int n, void *dst);
void moe_q40_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst);

void moe_matvec_q4_0_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_0_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matmul_q4_0_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, int tokens, float *y, size_t ldy,
                                  int row_begin, int row_end);
void moe_matmul_q4_0_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, int tokens, float *y, size_t ldy,
                                int row_begin, int row_end);

#endif
