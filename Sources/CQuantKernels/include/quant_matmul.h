// Batched integer products for ggml's block formats: the prompt's matrix × many-tokens products.
//
// Every token's activation is quantised once (moe_quantize_q8 / moe_quantize_q8k, as for a
// matrix–vector product); each weight block is loaded and unpacked (nibbles, K-format scales and
// mins) once for a group of up to four tokens, then dotted with each of them in integers. Each
// (row, token) result is bit-identical to the matrix–vector kernel of the same body for that
// token: the same integer lane sums, the same float multiply-adds in the same order. So a prompt
// computes the numbers decoding would. Naive twin: NaiveKernels.quantizedMatvec per token.
#ifndef MOEPP_QUANT_MATMUL_H
#define MOEPP_QUANT_MATMUL_H

#include "quant_kernels.h"

// Y[t·ldy + r] = row r · x_t for row_begin ≤ r < row_end and 0 ≤ t < tokens. Row r starts at
// w + r·row_bytes and holds n elements (whole blocks); x_t = x + t·(n / block width) is token t's
// quantised activation (32-element blocks for Q8_0/Q4_0/Q5_0/Q5_1, 256-element ones for Q4_K/Q5_K/Q6_K).
#define MOE_MATMUL_ARGS(XT) const void *w, size_t row_bytes, const XT *x, int n, int tokens, float *y, size_t ldy, int row_begin, int row_end

// AVX2 bodies where compiled for it (x86-64), scalar ones elsewhere: twins of moe_matvec_<fmt>.
void moe_matmul_q8_0(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q4_0(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q5_0(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q5_1(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q4_k(MOE_MATMUL_ARGS(moe_block_q8k));
void moe_matmul_q5_k(MOE_MATMUL_ARGS(moe_block_q8k));
void moe_matmul_q6_k(MOE_MATMUL_ARGS(moe_block_q8k));

// The scalar bodies under their own names on every machine (tests): twins of moe_matvec_<fmt>_scalar.
void moe_matmul_q8_0_scalar(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q4_0_scalar(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q5_0_scalar(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q5_1_scalar(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q4_k_scalar(MOE_MATMUL_ARGS(moe_block_q8k));
void moe_matmul_q5_k_scalar(MOE_MATMUL_ARGS(moe_block_q8k));
void moe_matmul_q6_k_scalar(MOE_MATMUL_ARGS(moe_block_q8k));

// AVX-512 VNNI bodies, chosen at run time: only call them when moe_cpu_has_vnni() is 1. Twins of
// moe_matvec_<fmt>_vnni (whose lane sums differ from the AVX2 bodies', see quant_matmul_vnni.c and
// quant_kernels_k_vnni.c).
void moe_matmul_q8_0_vnni(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q4_0_vnni(MOE_MATMUL_ARGS(moe_block_q8));
void moe_matmul_q4_k_vnni(MOE_MATMUL_ARGS(moe_block_q8k));
void moe_matmul_q6_k_vnni(MOE_MATMUL_ARGS(moe_block_q8k));

#endif
