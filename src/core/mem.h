// mem: large, zeroed, 64-byte aligned buffers for parameters and activations.
//
// Buffers of 2 MiB or more are 2 MiB aligned and advised to use transparent huge pages:
// first-touch page faults on 4 KiB pages are slow on virtual machines, and training touches
// the same buffers every step.  Allocate once, reuse.
#ifndef MANABI_CORE_MEM_H
#define MANABI_CORE_MEM_H

#include <stddef.h>

// Returns zeroed memory or NULL.  Free with mem_free (NULL is fine).
void *mem_alloc(size_t bytes);
void mem_free(void *p);
// This process's resident memory now and at its peak, in bytes (0 where unknown).
size_t mem_resident(void);
size_t mem_peak_resident(void);

#endif
