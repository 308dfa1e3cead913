// An LD_PRELOAD library that counts heap allocations (malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign) and prints the total to stderr at exit. Used by
// count-allocations.sh to measure allocations per decoded token without touching the engine.
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;

void *malloc(size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_malloc(n); }
void *calloc(size_t c, size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_calloc(c, n); }
void *realloc(void *p, size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    void *p = memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "malloc_counter: %ld allocations\n", atomic_load(&allocations));
}
