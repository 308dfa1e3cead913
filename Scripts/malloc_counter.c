// An LD_PRELOAD library that counts heap allocations (malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign) and prints the total to stderr at exit. Used by
// count-allocations.sh to measure allocations per decoded token without touching the engine.
//
// With MALLOC_COUNTER_SITES=FILE it also writes, for every allocation, the first return address
// inside the main executable (as an offset into it, for `addr2line -f -e BIN`), one per line:
// count-allocations.sh --sites turns two such lists into the per-token allocation sites.
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;
static int sites_fd = -2;            // -2: not looked up yet, -1: off
static _Thread_local int in_hook;    // backtrace() and dladdr() may allocate themselves

static uintptr_t main_base, main_begin, main_end;   // the executable's load base and mapped range

// dl_iterate_phdr lists the executable first (empty name).
static int find_main(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    main_base = info->dlpi_addr;
    main_begin = UINTPTR_MAX;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        if (main_base + ph->p_vaddr < main_begin) main_begin = main_base + ph->p_vaddr;
        if (main_base + ph->p_vaddr + ph->p_memsz > main_end) main_end = main_base + ph->p_vaddr + ph->p_memsz;
    }
    return 1;
}

static void record_site(void) {
    if (sites_fd == -1 || in_hook) return;
    in_hook = 1;
    if (sites_fd == -2) {
        const char *path = getenv("MALLOC_COUNTER_SITES");
        sites_fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644) : -1;
        if (sites_fd >= 0) dl_iterate_phdr(find_main, NULL);
    }
    if (sites_fd >= 0) {
        void *frames[24];
        const int depth = backtrace(frames, 24);
        // The first few frames inside the executable: the innermost is often a standard-library
        // specialisation (an array growing), the caller that matters one or two further out.
        char line[96];
        int length = 0, found = 0;
        for (int i = 2; i < depth && found < 4; i++) {
            const uintptr_t address = (uintptr_t)frames[i];
            if (address < main_begin || address >= main_end) continue;
            length += snprintf(line + length, sizeof line - (size_t)length, "%s%lx", found ? "," : "", (unsigned long)(address - main_base - 1));
            found++;
        }
        if (!found) length = snprintf(line, sizeof line, "-");
        line[length++] = '\n';
        if (write(sites_fd, line, (size_t)length) < 0) sites_fd = -1;
    }
    in_hook = 0;
}

static inline void count(void) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    record_site();
}

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t c, size_t n) { count(); return __libc_calloc(c, n); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
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
