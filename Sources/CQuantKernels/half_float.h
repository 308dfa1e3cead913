// f16 → f32 without F16C, exact (every f16 is an f32): for the portable scalar bodies of the
// quantised kernels (block scales) and of the element kernels (f16 weights).
#ifndef MOEPP_HALF_FLOAT_H
#define MOEPP_HALF_FLOAT_H

#include <stdint.h>
#include <string.h>

static inline float moe_half_bits_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000 | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        exponent = 113;
        while (!(mantissa & 0x400)) { mantissa <<= 1; exponent--; }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
    }
    float f; memcpy(&f, &bits, 4); return f;
}

#endif
