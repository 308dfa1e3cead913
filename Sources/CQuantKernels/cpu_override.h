// MOEPP_CPU=avx2 in the environment: the CPU-feature checks (moe_cpu_has_avx512, _vnni,
// _avx512bf16, the bandwidth probe's) answer no, so a machine with AVX-512 runs what a CPU without
// it runs: kernels, layouts (the rows8 formats an AVX2 CPU interleaves) and probe. For measuring
// and testing those paths whole (`MOEPP_CPU=avx2 moepp bench …`). Read at every check; the Swift
// side keeps each answer in a `static let`, so set it before the process starts.
#ifndef MOEPP_CPU_OVERRIDE_H
#define MOEPP_CPU_OVERRIDE_H

#include <stdlib.h>
#include <string.h>

static inline int moe_cpu_avx512_allowed(void) {
    const char *cpu = getenv("MOEPP_CPU");
    return !(cpu && strcmp(cpu, "avx2") == 0);
}

#endif
