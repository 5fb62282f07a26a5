# Helpers sourced by the benchmarks that run BLAS (this file is not a benchmark).
#
# The same environment for manabi and its reference in one run: every core, OPENBLAS_L2_SIZE
# unset, and OPENBLAS_CORETYPE set to the best core type this CPU supports (SkylakeX with
# AVX-512, else Haswell): left unset, OpenBLAS 0.3.21 does not recognise recent Intel cores and
# falls back to its SSE3 "Prescott" kernels.
threads=$(nproc)
if grep -q avx512bw /proc/cpuinfo; then core=SkylakeX; elif grep -q avx2 /proc/cpuinfo; then core=Haswell; else core=Prescott; fi
blas_omp=/usr/lib/x86_64-linux-gnu/openblas-openmp  # the OpenMP build of OpenBLAS, for PyTorch
run() { env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=$core OMP_NUM_THREADS="$threads" "$@"; }
# field KEY / str KEY: a number / a string of a one-line JSON object on stdin.
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
str() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"; }
