// Batch products Y = X·Wᵀ for f32, f16 and bf16 weight rows (a prompt, or the tokens routed to
// one expert): each weight row is converted in registers (f16: vcvtph2ps; bf16: widen and shift
// by 16) and multiplied by several tokens while it is loaded, so nothing is widened into memory
// and every product stays exact, summed in f32. Register blocks of rows × tokens; AVX-512F bodies
// chosen at run time (moe_cpu_has_avx512), AVX2 bodies (the x86-64 baseline; the unsuffixed
// names) and portable scalar bodies. Naive twin: NaiveKernels.matmul (Swift, Double sums).
#ifndef MOEPP_ELEMENT_GEMM_H
#define MOEPP_ELEMENT_GEMM_H

#include <stddef.h>

// y[t·y_stride + r] = Σ_i w_r[i]·x[t·n + i] for row_begin ≤ r < row_end and 0 ≤ t < tokens;
// row r starts at w + r·row_bytes and holds n elements, x holds `tokens` rows of n floats.
void moe_gemm_f32(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);
void moe_gemm_f16(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);
void moe_gemm_bf16(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);

void moe_gemm_f32_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);
void moe_gemm_f16_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);
void moe_gemm_bf16_avx512(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);

void moe_gemm_f32_scalar(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);
void moe_gemm_f16_scalar(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);
void moe_gemm_bf16_scalar(const void *w, size_t row_bytes, const float *x, int n, int tokens, float *y, int y_stride, int row_begin, int row_end);

#endif
