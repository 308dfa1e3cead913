// Read kernels for the memory-bandwidth probe (MemoryBandwidth.swift): each returns the sum of
// the 64-bit words of [p, p + bytes) (wrapping), so the loads cannot be optimised away and every
// body can be held equal to its scalar twin. bytes must be a multiple of 8; p 8-byte aligned
// (the vector bodies read 64-byte-aligned blocks and take unaligned ends word by word).
// Naive twin: moe_read_sum_scalar.
#ifndef MOEPP_MEMORY_READ_H
#define MOEPP_MEMORY_READ_H

#include <stddef.h>
#include <stdint.h>

// The bodies the probe compares (`moepp bandwidth`).
enum moe_read_variant {
    MOE_READ_SCALAR = 0,          // one word at a time (the twin)
    MOE_READ_AVX2 = 1,            // one stream, 256-bit loads, four accumulators
    MOE_READ_AVX512 = 2,          // one stream, 512-bit loads, four accumulators
    MOE_READ_AVX512_PREFETCH = 3, // the same with software prefetch 4 KiB ahead
    MOE_READ_AVX512_STREAMS = 4,  // four streams (the quarters of the range) read side by side
    MOE_READ_AVX512_STREAMS_PREFETCH = 5, // four streams, each prefetched 2 KiB ahead
    MOE_READ_AVX2_PREFETCH = 6,   // one stream, 256-bit loads, prefetch 4 KiB ahead
    MOE_READ_AVX2_STREAMS = 7,    // four streams, 256-bit loads
    MOE_READ_AVX2_STREAMS_PREFETCH = 8, // four streams, each prefetched 2 KiB ahead
    MOE_READ_VARIANTS = 9
};

uint64_t moe_read_sum(const void *p, size_t bytes, int variant);
uint64_t moe_read_sum_scalar(const void *p, size_t bytes);
// 1 when `variant` can run on this CPU (AVX2 compiled in; AVX-512 F at run time).
int moe_read_variant_available(int variant);

#endif
