// The portable scalar bodies under _scalar names, compiled on every machine so that the tests
// hold them to their naive twins too (production calls the unsuffixed ones). See quant_kernels_body.h.
#define MOE_AVX2 0
#define MOE_FN(name) name##_scalar
#include "quant_kernels_body.h"
#include "quant_matmul_body.h"
