// SwiGLU's gate, out[i] = silu(g[i])·up[i] with silu(g) = g / (1 + e^(−g)), vectorised: the exp is
// a polynomial (below) instead of one libm expf per element. AVX2+FMA body (the x86-64 baseline
// this package compiles for), an AVX-512F body chosen at run time (moe_cpu_has_avx512), and a
// scalar twin with libm expf for other machines.
// Naive twin: NaiveKernels.siluMultiply (Swift, Double).
//
// Every element goes through the same lane arithmetic whatever its position or the length (the
// tail is a masked / padded vector, not a scalar loop), so a prompt and an incremental decode
// that call the same body on the same values get the same bits. The AVX2 and AVX-512 bodies do
// the same operations in the same order and agree bit for bit.
//
// Range: g → +∞ gives g·up (e^(−g) underflows to 0); g < −88.73 gives ±0 (e^(−g) overflows to ∞;
// the true value is below 3e−37·|up|, as with the expf formula); g = −∞ gives NaN (−∞/∞, as
// the expf formula and torch's silu); NaN in gives NaN out. `out` may alias `gate` or `up`.
#ifndef MOEPP_SWIGLU_KERNELS_H
#define MOEPP_SWIGLU_KERNELS_H

void moe_silu_multiply(const float *gate, const float *up, float *out, long count);
void moe_silu_multiply_avx512(const float *gate, const float *up, float *out, long count);
void moe_silu_multiply_scalar(const float *gate, const float *up, float *out, long count);

#endif
