// Q4_K's packed 6-bit scales and mins for the AVX2 and scalar bodies (quant_kernels_body.h, its
// matvec, batched and dequantising kernels). The VNNI bodies decode the same layout in one 128-bit
// vector instead (q4k_scales_and_mins in quant_kernels_k_vnni.c; the tests hold both to the Swift
// reference through their products).
#ifndef MOEPP_Q4K_SCALES_H
#define MOEPP_Q4K_SCALES_H

#include <stdint.h>
#include <string.h>

// The eight 6-bit scales and mins as bytes, unpacked a 32-bit word at a time (layout in
// Q4_K.swift): sc0–3 = bytes 0–3 & 63, m0–3 = bytes 4–7 & 63, sc4–7 = low nibbles of bytes 8–11
// with bits 4–5 from the top of bytes 0–3, m4–7 = high nibbles of 8–11 with the top of 4–7.
static inline void q4k_unpack_scales(const uint8_t *packed, uint8_t sc[8], uint8_t m[8]) {
    uint32_t w[3];
    memcpy(w, packed, 12);
    const uint32_t sc_lo = w[0] & 0x3F3F3F3F, m_lo = w[1] & 0x3F3F3F3F;
    const uint32_t sc_hi = (w[2] & 0x0F0F0F0F) | ((w[0] >> 2) & 0x30303030);
    const uint32_t m_hi = ((w[2] >> 4) & 0x0F0F0F0F) | ((w[1] >> 2) & 0x30303030);
    memcpy(sc, &sc_lo, 4); memcpy(sc + 4, &sc_hi, 4);
    memcpy(m, &m_lo, 4); memcpy(m + 4, &m_hi, 4);
}

#endif
