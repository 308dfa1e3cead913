// Integer matrix-vector products for ggml's block formats (Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).
//
// The activation vector is quantised once per product to 8-bit blocks (moe_block_q8 for the
// 32-element formats, moe_block_q8k for the 256-element K formats); each weight row is then
// dotted with it in integers, one float multiply per block. Naive twins: NaiveKernels.quantizedMatvec
// (Swift) dequantises the weights and the quantised activation and sums in Double.
#ifndef MOEPP_QUANT_KERNELS_H
#define MOEPP_QUANT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// The element-format kernels share this target. Included here too so that a build directory whose
// module cache predates element_kernels.h sees this header change and rebuilds the module.
#include "element_kernels.h"

// 32 activations: x[i] ≈ d·qs[i], |qs| ≤ 127. d stays f32 (ggml's block_q8_0 narrows it to f16;
// nothing here is written to a file, so the extra precision is free).
typedef struct {
    float d;
    int8_t qs[32];
    int32_t sum;   // Σ qs: the VNNI kernels multiply unsigned weights and subtract their bias·sum
} moe_block_q8;

// 256 activations with the sums of each 16 quants: the K formats' per-sub-block offsets (Q4_K's
// min, Q6_K's −32) multiply these sums instead of every element.
typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} moe_block_q8k;

// Quantises n floats (n a multiple of 32, resp. 256): d = max|x|/127, q = round-half-even(x·(1/d)).
void moe_quantize_q8(const float *x, int n, moe_block_q8 *out);
void moe_quantize_q8k(const float *x, int n, moe_block_q8k *out);

// y[r] = row r · x for row_begin ≤ r < row_end; row r starts at w + r·row_bytes and holds n
// elements (whole blocks); x is the activation quantised by the matching function above.
void moe_matvec_q8_0(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_0(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q5_0(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q5_1(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_k(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q5_k(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q6_k(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);

// AVX-512 VNNI versions, compiled for that target by function attribute and chosen at run time:
// only call them when moe_cpu_has_vnni() is 1 (AVX-512 F/BW/VL/VNNI). The 32-block kernels use
// vpdpbusd on two blocks per 512-bit vector, with the 256-bit body's bits (quant_kernels_vnni.c);
// the K formats vpmaddubsw + vpdpwssd on 512-bit vectors (quant_kernels_k_vnni.c). Q5_0, Q5_1 and Q5_K have
// no VNNI body: the AVX2 one serves them everywhere.
int moe_cpu_has_vnni(void);
// 1 on an AMD CPU: where the kernels measured differently by vendor (QuantizedKernels.q8FarRows).
int moe_cpu_is_amd(void);
void moe_matvec_q8_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
// Four far-apart rows a pass, 256-bit, each row with moe_matvec_q8_0_vnni's bits (chosen on AMD).
void moe_matvec_q8_0_vnni_far(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_0_vnni(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_k_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q6_k_vnni(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);

// Dequantises n elements (whole blocks) to f32, bit-identical to the Swift reference dequantisers.
void moe_dequantize_q8_0(const void *src, float *out, int n);
void moe_dequantize_q4_0(const void *src, float *out, int n);
void moe_dequantize_q5_0(const void *src, float *out, int n);
void moe_dequantize_q5_1(const void *src, float *out, int n);
void moe_dequantize_q4_k(const void *src, float *out, int n);
void moe_dequantize_q5_k(const void *src, float *out, int n);
void moe_dequantize_q6_k(const void *src, float *out, int n);

// 1 when the AVX2 paths were compiled in, 0 for the portable scalar ones.
int moe_quant_kernels_simd(void);

// The scalar bodies under their own names, on every machine: for the tests only.
void moe_quantize_q8_scalar(const float *x, int n, moe_block_q8 *out);
void moe_quantize_q8k_scalar(const float *x, int n, moe_block_q8k *out);
void moe_matvec_q8_0_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_0_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q5_0_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q5_1_scalar(const void *w, size_t row_bytes, const moe_block_q8 *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q4_k_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q5_k_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
void moe_matvec_q6_k_scalar(const void *w, size_t row_bytes, const moe_block_q8k *x, int n, float *y, int row_begin, int row_end);
int moe_quant_kernels_simd_scalar(void);
void moe_dequantize_q8_0_scalar(const void *src, float *out, int n);
void moe_dequantize_q4_0_scalar(const void *src, float *out, int n);
void moe_dequantize_q5_0_scalar(const void *src, float *out, int n);
void moe_dequantize_q5_1_scalar(const void *src, float *out, int n);
void moe_dequantize_q4_k_scalar(const void *src, float *out, int n);
void moe_dequantize_q5_k_scalar(const void *src, float *out, int n);
void moe_dequantize_q6_k_scalar(const void *src, float *out, int n);

// The batched (prompt) kernels; included here for the same reason as element_kernels.h above.
#include "quant_matmul.h"
// Q4_K in interleaved groups of eight rows; the same reason.
#include "q4k_rows8.h"
#include "q6k_rows8.h"
#include "q40_rows8.h"
#include "q80_rows8.h"

#endif
