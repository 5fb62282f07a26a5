#!/usr/bin/env bash
# LoRA benchmark: fine-tuning the small configuration with LoRA adapters against full fine-tuning.
#
#   bench/lora.sh [--steps N] [--warmup K] [--batch B] [--row R]
#
# Runs build/bench_lora once per mode, each in its own process so that its peak memory is its
# own: the small Llama (V=32768, context 512, L=8, NH=8, C=512, random weights) fine-tuned by
# sft_train on synthetic conversations (the byte tokenizer; every example R tokens, so every
# step is B rows of R), LoRA rank 8, alpha 16, dropout 0.05 on q_proj and v_proj with the base
# frozen, against every weight trained.  Per mode: the median step time over N steps after K
# warm-up steps (a whole optimizer step: forward, backward, clipping, AdamW), tokens/s (row
# positions), the trainable parameters, the bytes their gradients and AdamW moments need
# (trainable x 4 bytes x 3, computed), and the measured peak resident memory, also as an
# increase over the resident memory before training (the weights and the data).
#
# The verdicts the issue asks for: LoRA must need clearly less memory for gradients and
# optimizer state, and must not be slower per step.
#
# OpenBLAS as in bench/train_step.sh: OPENBLAS_L2_SIZE unset, OPENBLAS_CORETYPE set to the best
# core type this CPU supports, one thread per core.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=5 warmup=1 batch=8 row=256
while [[ $# -gt 0 ]]; do
    case $1 in
        --steps) steps=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --row) row=$2; shift 2 ;;
        *) echo "usage: bench/lora.sh [--steps N] [--warmup K] [--batch B] [--row R]" >&2; exit 2 ;;
    esac
done
scripts/install_deps.sh
make -s -j"$(nproc)" bench >/dev/null
source bench/lib.sh  # threads, core, blas_omp, run, field, str

echo "small llama (V=32768, L=8, NH=8, C=512), $batch rows of $row tokens per step, threads $threads," \
    "OPENBLAS_CORETYPE=$core, $steps timed steps after $warmup warm-up (median)"
printf '%-4s | %9s %9s | %10s %8s | %12s | %9s %12s\n' mode "step ms" "tokens/s" trainable "% model" \
    "grad+opt MiB" "peak MiB" "+over wts MiB"
declare -A out
for mode in lora full; do
    j=$(run build/bench_lora --mode "$mode" --steps "$steps" --warmup "$warmup" --batch "$batch" --row "$row" --json)
    out[$mode]=$j
    printf '%-4s | %9.1f %9.0f | %10d %7.3f%% | %12.2f | %9.0f %12.0f\n' "$mode" "$(field step_ms_median <<<"$j")" \
        "$(field tokens_per_s <<<"$j")" "$(field trainable <<<"$j")" "$(field trainable_pct <<<"$j")" \
        "$(field grad_opt_mib <<<"$j")" "$(field peak_rss_mib <<<"$j")" "$(field rss_increase_mib <<<"$j")"
done

lg=$(field grad_opt_mib <<<"${out[lora]}") fg=$(field grad_opt_mib <<<"${out[full]}")
lms=$(field step_ms_median <<<"${out[lora]}") fms=$(field step_ms_median <<<"${out[full]}")
lpk=$(field peak_rss_mib <<<"${out[lora]}") fpk=$(field peak_rss_mib <<<"${out[full]}")
awk -v lg="$lg" -v fg="$fg" -v lpk="$lpk" -v fpk="$fpk" 'BEGIN {
    printf "LoRA optimizer+gradient memory %.1f MiB vs full %.1f MiB (%.0f x less)\n", lg, fg, fg / lg
    printf "  measured: peak resident %.0f MiB vs %.0f MiB, %.0f MiB less (computed: %.0f MiB less)\n",
        lpk, fpk, fpk - lpk, fg - lg }'
awk -v l="$lms" -v f="$fms" 'BEGIN {
    printf "LoRA step %.1f ms vs full %.1f ms: %s\n", l, f,
        l <= f ? sprintf("not slower (%.2f x the time of a full step)", l / f) : sprintf("slower (%.0f%% more time)", 100 * (l / f - 1)) }'
