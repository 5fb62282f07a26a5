// cpu: what this processor can do, detected at run time.
#ifndef MANABI_CORE_CPU_H
#define MANABI_CORE_CPU_H

// The widest fused multiply-add the CPU has: "avx512", "avx2" or "scalar".
const char *cpu_fma_isa(void);
// fp32 peak in FLOP/s on `threads` threads, measured by a ~50 ms loop of independent FMAs
// (2 FLOPs each) with the widest vectors available.  Used as the denominator of MFU.
double cpu_measure_peak_flops(int threads);

#endif

// The OpenBLAS kernel set in use (e.g. "SkylakeX", "Haswell", "Prescott").
const char *cpu_blas_core(void);
// OpenBLAS picks its kernels from the CPU model it recognises; a model newer than the library
// (OpenBLAS 0.3.21 and Intel's 5th-generation Xeons, say) falls back to its SSE3 "Prescott"
// kernels, several times slower.  Returns the OpenBLAS core type that matches what this CPU
// can do ("SkylakeX" with AVX-512, "Haswell" with AVX2) when that is better than the kernels
// in use, else NULL.
const char *cpu_blas_better_core(void);
