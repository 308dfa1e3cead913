// bf16 weights times bf16-rounded activations, summed in f32: the precision llama.cpp uses for
// bf16 weights on a CPU with AVX-512 BF16, and PyTorch when a model runs in bf16. Opt-in
// (ComputePrecision.bf16Activations); the default products keep the activations in f32
// (element_kernels.h).
//
// The activation vector is rounded to bf16 once per product (moe_round_to_bf16), then each pair
// of weights is multiplied by its pair of activations with vdpbf16ps:
//     acc_j += w[2j]·x[2j] + w[2j+1]·x[2j+1]      (bf16 × bf16 products, f32 sums)
// Naive twins: the _scalar bodies (products exact, sums in double); the tests hold the vector
// bodies to them, and the rounding to them bit for bit.
#ifndef MOEPP_BF16_DOT_KERNELS_H
#define MOEPP_BF16_DOT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// 1 when the CPU has AVX-512 F, BW, VL and BF16 (and the OS saves their registers): the
// _avx512bf16 bodies may run.
int moe_cpu_has_avx512bf16(void);

// out[i] = x[i] rounded to bf16 the way vcvtneps2bf16 / _mm512_cvtne2ps_pbh round: to nearest,
// ties to even; zeros and denormals → zero of the same sign (the instruction treats input
// denormals as zero); ±∞ kept; NaN → its top 16 bits with the quiet bit (bit 6) set, so a NaN
// stays a NaN even when its payload sits in the low bits. Finite values too large round to ±∞.
void moe_round_to_bf16_scalar(const float *x, int n, uint16_t *out);
void moe_round_to_bf16_avx512bf16(const float *x, int n, uint16_t *out);

// y[r] = Σ_i w_r[i]·xb[i] for row_begin ≤ r < row_end; row r starts at w + r·row_bytes and holds
// n bf16; xb is x already rounded to bf16 (n elements).
void moe_matvec_bf16_dot_scalar(const void *w, size_t row_bytes, const uint16_t *xb, int n, float *y, int row_begin, int row_end);
void moe_matvec_bf16_dot_avx512bf16(const void *w, size_t row_bytes, const uint16_t *xb, int n, float *y, int row_begin, int row_end);

// A batch: y[t·ldy + r] = Σ_i w_r[i]·xb[t·n + i] for every token 0 ≤ t < tokens and
// row_begin ≤ r < row_end (xb: tokens × n bf16, row-major; y: tokens × ldy).
void moe_matmul_bf16_dot_scalar(const void *w, size_t row_bytes, const uint16_t *xb, int n, int tokens, float *y, size_t ldy, int row_begin, int row_end);
void moe_matmul_bf16_dot_avx512bf16(const void *w, size_t row_bytes, const uint16_t *xb, int n, int tokens, float *y, size_t ldy, int row_begin, int row_end);

#endif
