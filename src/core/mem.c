#include "core/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *mem_alloc(size_t bytes) {
    if (bytes == 0) bytes = 64;
    size_t align = bytes >= (2u << 20) ? (2u << 20) : 64;
    size_t rounded = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded);
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == (2u << 20)) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    memset(p, 0, rounded);
    return p;
}

void mem_free(void *p) { free(p); }
