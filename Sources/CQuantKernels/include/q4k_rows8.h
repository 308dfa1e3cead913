// Q4_K (and Q5_K, below) matrices with eight rows interleaved ("rows8"), built at load time for the
// AVX-512 VNNI kernels, and for Q4_K's AVX2 one on CPUs without VNNI (llama.cpp does the same with
// its GGML_CPU_REPACK layouts). A group of eight rows keeps
// the bytes the eight rows had (8 × row_bytes), so row r's group still starts at
// w + (r / 8)·8·row_bytes and every byte count, expert-cache slot and file range stays as it was.
//
// Why: in the row-major layout each row's block pays for its own scale decoding, scale
// permutations and horizontal sums (the one-row VNNI matvec is compute-bound at ~18 GB/s a core).
// Interleaved, one 512-bit lane pair holds the eight rows' weights at the same positions: the
// activation bytes are broadcast once for eight rows, the eight rows' scales are decoded with one
// set of vector operations, and each lane ends as one row's result with no horizontal sum.
//
// Group layout, per block b of 256 columns (1152 bytes = 8 × 144, at group + 1152·b):
//   [0, 32)    d of rows 0–7, then dmin of rows 0–7 (f16)
//   [32, 96)   byte i: low nibble = low 4 bits of scale value i, high nibble = of min value i,
//              where scale value i is sub-block i / 8 of row i % 8 and min value i is
//              sub-block i % 8 of row i / 8
//   [96, 128)  byte k: bits 0–1 = top bits of scale value k, 2–3 of scale value k + 32,
//              4–5 of min value k, 6–7 of min value k + 32
//   [128, 1152) sixteen 64-byte chunks: chunk q holds bytes 8q … 8q + 7 of each row's 128 quant
//              bytes, row r at 8r (so low nibbles are elements 64c + 8s + e, high ones
//              64c + 32 + 8s + e, for q = 4c + s, as in Q4_K itself)
//
// Q5_K (Q4_K with a fifth bit per value: qh[32] between the scales and the quants), per block of
// 1408 bytes = 8 × 176: [0, 128) as Q4_K; [128, 384) four 64-byte qh chunks, chunk s holding
// bytes 8s … 8s + 7 of each row's 32 qh bytes, row r at 8r; [384, 1408) the sixteen quant chunks
// as Q4_K's. Element 64c + 32h + 8s + e of a row is its quant chunk 4c + s nibble h, plus 16 ×
// bit 2c + h of qh chunk s's byte e (qh first: the kernel reads a block front to back).
//
// Arithmetic, the same for every body and batch size, per row and block (n_i up to 31 for Q5_K):
//   S = Σ_j sc_j·Σ_i n_i·q_i and M = Σ_j m_j·(bsums[2j] + bsums[2j+1]) exactly in integers, then
//   acc_d = fma(d·dx, S, acc_d), acc_m = fma(dmin·(−dx), M, acc_m), and y = acc_d + acc_m.
// So the scalar twin below equals the VNNI and AVX2 bodies bit for bit, and a prompt's (row, token) result
// equals decoding's.
#ifndef MOEPP_Q4K_ROWS8_H
#define MOEPP_Q4K_ROWS8_H

#include "quant_kernels.h"

// Rewrites eight consecutive Q4_K rows (row_bytes apart, n columns) into one rows8 group at dst
// (8·row_bytes bytes; dst must not overlap src), and back.
void moe_q4k_rows8_pack(const void *src, size_t row_bytes, int n, void *dst);
void moe_q4k_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst);

// y[r] = row r · x for row_begin ≤ r < row_end, the matrix in rows8 groups (its row count a
// multiple of 8; any row range).
void moe_matvec_q4_k_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_k_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);

// Y[t·ldy + r] for every token, as moe_matmul_q4_k (quant_matmul.h) on rows8 groups.
void moe_matmul_q4_k_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, int tokens, float *y, size_t ldy,
                                  int row_begin, int row_end);
void moe_matmul_q4_k_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, int tokens, float *y, size_t ldy,
                                int row_begin, int row_end);

// Q4_K's AVX2 bodies (CPUs without AVX-512 VNNI), the same bits.
void moe_matvec_q4_k_rows8_avx2(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matmul_q4_k_rows8_avx2(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, int tokens, float *y, size_t ldy,
                                int row_begin, int row_end);

// The same for Q5_K.
void moe_q5k_rows8_pack(const void *src, size_t row_bytes, int n, void *dst);
void moe_q5k_rows8_unpack(const void *src, size_t row_bytes, int n, void *dst);
void moe_matvec_q5_k_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q5_k_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matmul_q5_k_rows8_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, int tokens, float *y, size_t ldy,
                                  int row_begin, int row_end);
void moe_matmul_q5_k_rows8_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, int tokens, float *y, size_t ldy,
                                int row_begin, int row_end);

#endif
