// The kernels with AVX2 bodies where the compiler targets AVX2 + FMA + F16C (Package.swift passes
// -mavx2 -mfma -mf16c on x86-64), scalar bodies elsewhere. See quant_kernels_body.h.
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define MOE_AVX2 1
#else
#define MOE_AVX2 0
#endif
#define MOE_FN(name) name
#include "quant_kernels_body.h"
#include "quant_matmul_body.h"
