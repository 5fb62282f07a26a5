// timing: a monotonic clock and the median of a set of timings.
#ifndef MANABI_CORE_TIMING_H
#define MANABI_CORE_TIMING_H

// Seconds on a monotonic clock (only differences are meaningful).
double timing_now(void);
// The median of v[0..n), n >= 1; sorts v in place.
double timing_median(double *v, int n);

#endif
