#!/usr/bin/env bash
# Training-step benchmark: manabi against PyTorch 1.13 on the same machine, in one invocation.
#
#   bench/train_step.sh [--steps N] [--configs "tiny small"] [--families "llama gpt2"]
#
# For each family and configuration it runs build/bench_train_step and bench/torch_train.py
# (same shapes, same step: forward + backward + clip + AdamW, float32) and prints the median
# step time, tokens/s, the ratio manabi / PyTorch, MFU and peak memory.
#
# Kernels: both use OpenBLAS 0.3.21 for matrix products.  OPENBLAS_L2_SIZE is unset, and
# OPENBLAS_CORETYPE is set to the best core type this CPU supports (SkylakeX with AVX-512,
# else Haswell) for BOTH: left unset, this OpenBLAS does not recognise recent Intel cores and
# falls back to SSE3 "Prescott" kernels.  PyTorch gets its best settings: the OpenMP build of
# OpenBLAS (LD_LIBRARY_PATH), threads matched (OMP_NUM_THREADS, torch.set_num_threads),
# denormals flushed; bench/torch_train.py prints the kernels it loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=10 configs="tiny small" families="llama gpt2"
while [[ $# -gt 0 ]]; do
    case $1 in
        --steps) steps=$2; shift 2 ;;
        --configs) configs=$2; shift 2 ;;
        --families) families=$2; shift 2 ;;
        *) echo "usage: bench/train_step.sh [--steps N] [--configs \"tiny small\"] [--families \"llama gpt2\"]" >&2; exit 2 ;;
    esac
done
scripts/install_deps.sh --test
make -s -j"$(nproc)" bench >/dev/null
source bench/lib.sh  # threads, core, blas_omp, run, field, str

echo "threads $threads, OPENBLAS_CORETYPE=$core, OPENBLAS_L2_SIZE unset, $steps timed steps (median)"
printf '%-6s %-6s | %10s %10s | %10s %10s | %6s | %6s | %9s %9s\n' family config "manabi ms" "torch ms" \
    "manabi t/s" "torch t/s" ratio MFU "manabi MiB" "torch MiB"
for fam in $families; do
    for cfg in $configs; do
        m=$(run build/bench_train_step --family "$fam" --config "$cfg" --steps "$steps" --json)
        t=$(run LD_LIBRARY_PATH=$blas_omp /usr/bin/python3 bench/torch_train.py --family "$fam" --config "$cfg" \
            --steps "$steps" --threads "$threads" --json | tail -n 1)
        mms=$(field step_ms_median <<<"$m") tms=$(field step_ms_median <<<"$t")
        printf '%-6s %-6s | %10.1f %10.1f | %10.0f %10.0f | %5.2fx | %5.1f%% | %9.0f %9.0f\n' "$fam" "$cfg" "$mms" "$tms" \
            "$(field tokens_per_s <<<"$m")" "$(field tokens_per_s <<<"$t")" "$(awk -v a="$tms" -v b="$mms" 'BEGIN{print a/b}')" \
            "$(awk -v x="$(field mfu <<<"$m")" 'BEGIN{print 100*x}')" "$(field peak_rss_mib <<<"$m")" "$(field peak_rss_mib <<<"$t")"
        echo "        kernels: manabi $(str blas <<<"$m") ($(str fma <<<"$m"), peak $(field peak_gflops <<<"$m") GFLOP/s); torch $(str blas <<<"$t")"
    done
done
