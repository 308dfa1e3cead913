// Matrix–vector rows for the element formats (f32, f16, bf16) in C, where the conversions are
// single instructions: F16C's vcvtph2ps for f16 (Swift's SIMD16<Float16>→Float is an out-of-line
// call), shifts for bf16; AVX2 bodies (the x86-64 baseline this package compiles for), AVX-512F
// bodies chosen at run time where the CPU has them (f16/bf16 with software prefetch), and portable
// scalar bodies.
// Naive twin: NaiveKernels.matvec (Swift, Double sums).
#ifndef MOEPP_ELEMENT_KERNELS_H
#define MOEPP_ELEMENT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// y[r] = Σ_i w_r[i]·x[i] for row_begin ≤ r < row_end; row r starts at w + r·row_bytes and holds
// n elements. The bf16 kernels take x twice: `split` (moe_split_even_odd of x) for whole blocks
// of 32 elements, `x` itself for the tail.
void moe_matvec_f32(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_f16(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_bf16(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end);

void moe_matvec_f32_avx512(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_f16_avx512(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_bf16_avx512(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end);
// Four far-apart rows a pass, no software prefetch; each row with the _avx512 body's bits (chosen on AMD).
void moe_matvec_f32_avx512_far(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_f16_avx512_far(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_bf16_avx512_far(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end);

void moe_matvec_f32_scalar(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_f16_scalar(const void *w, size_t row_bytes, const float *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_bf16_scalar(const void *w, size_t row_bytes, const float *split, const float *x, int n, float *y, int row_begin, int row_end);

// Each block of 32 elements of x becomes its 16 even-indexed elements, then its 16 odd-indexed
// ones (a tail shorter than 32 is left out). A bf16 row read as 32-bit words holds an even
// element in each word's low half and an odd one in its high half: `word << 16` and
// `word & 0xFFFF0000` are both exact f32s, so the kernels multiply them by the split x directly.
void moe_split_even_odd(const float *x, int n, float *out);

// 1 when the CPU has AVX-512 F (and the OS saves its registers): the _avx512 bodies may run.
int moe_cpu_has_avx512(void);
// 1 when the AVX2 bodies were compiled in (x86-64 with -mavx2 -mfma -mf16c), 0 when the
// unsuffixed names are the scalar bodies.
int moe_element_kernels_avx2(void);

#endif
