// cpu: what this processor can do, detected at run time.
#ifndef MANABI_CORE_CPU_H
#define MANABI_CORE_CPU_H

// The widest fused multiply-add the CPU has: "avx512", "avx2" or "scalar".
const char *cpu_fma_isa(void);
// fp32 peak in FLOP/s on `threads` threads, measured by a ~50 ms loop of independent FMAs
// (2 FLOPs each) with the widest vectors available.  Used as the denominator of MFU.
double cpu_measure_peak_flops(int threads);

#endif
