#!/usr/bin/env bash
# Alignment benchmark: a step of DPO, GRPO and PPO on the small configuration with LoRA.
#
#   bench/align.sh [--steps N] [--warmup K] [--batch B] [--pairs P]
#
# Runs build/bench_align once per mode, each in its own process so that its peak memory is its
# own: the small Llama (V=32768, context 512, L=8, NH=8, C=512, random weights), the byte
# tokenizer, LoRA rank 8 on q_proj and v_proj (dpo_defaults / rl_defaults), the base frozen.
#   dpo:  dpo_train on P synthetic preference pairs (prompts of ~40-80 tokens, answers of
#         ~40-100, word-like text from a fixed list, written as JSONL to a temporary directory
#         and read with pref_load), B pairs (2 B rows) per step.  Measured: dpo_progress_t's
#         step_s (forward, backward, clipping, AdamW; the reference log-probabilities are
#         computed once before the first step) and tokens/s = tokens / step_s (row positions,
#         padding to the batch's longest row included).
#   grpo, ppo: rl_train (RL_GRPO / RL_PPO, rl_defaults: 4 prompts x group 4, max_new 32) on
#         16 synthetic prompts; reward: the share of the answer's tokens that are lowercase
#         letters.  Measured: rl_progress_t's gen_s (sampling the 16 answers, scoring them) and
#         train_s (the reference forward, the policy's forward and backward, the update; PPO
#         also the old policy's forward and 2 epochs); generation tokens/s = answer tokens
#         generated / gen_s; training positions/s = the 16 rows' prompt + answer tokens (no
#         padding) / train_s.
# Each time is the median over N timed steps after K warm-up steps.  Memory: the peak resident
# memory of the process against the model's own weights (parameters x 4 bytes).  The reference
# model is the same weights with the adapters unset, so resident memory before training is one
# copy of the weights (plus a few MiB); the increase during training is activations (the
# logits, rows x longest row x V floats, shown beside it, are the largest part), not a second
# copy of the weights.
#
# The defaults (4 timed steps after 1 warm-up, 16 pairs) keep the whole script near two
# minutes on a small machine; raise --steps where there is time.
#
# OpenBLAS as in bench/train_step.sh: OPENBLAS_L2_SIZE unset, OPENBLAS_CORETYPE set to the best
# core type this CPU supports, one thread per core.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=4 warmup=1 batch=8 pairs=16
while [[ $# -gt 0 ]]; do
    case $1 in
        --steps) steps=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        *) echo "usage: bench/align.sh [--steps N] [--warmup K] [--batch B] [--pairs P]" >&2; exit 2 ;;
    esac
done
scripts/install_deps.sh
make -s -j"$(nproc)" bench >/dev/null
source bench/lib.sh  # threads, core, blas_omp, run, field, str

echo "small llama (V=32768, L=8, NH=8, C=512), LoRA rank 8 on q,v, byte tokenizer, threads $threads," \
    "OPENBLAS_CORETYPE=$core, $steps timed steps after $warmup warm-up (median)"
echo "dpo: $batch pairs ($((2 * batch)) rows) per step from $pairs pairs; grpo, ppo: 4 prompts x group 4, max_new 32"
printf '%-4s | %8s %10s | %8s %10s | %9s %9s %9s %11s %10s\n' mode "gen s" "gen tok/s" "train s" "train tok/s" \
    "wts MiB" "base MiB" "peak MiB" "peak/wts" "logits MiB"
for mode in dpo grpo ppo; do
    j=$(run build/bench_align --mode "$mode" --steps "$steps" --warmup "$warmup" --batch "$batch" --pairs "$pairs" --json)
    if [[ $mode == dpo ]]; then
        g='-' gt='-' t=$(field step_s_median <<<"$j") tt=$(field tokens_per_s <<<"$j")
    else
        g=$(printf '%.3f' "$(field gen_s_median <<<"$j")") gt=$(printf '%.0f' "$(field gen_tokens_per_s <<<"$j")")
        t=$(field train_s_median <<<"$j") tt=$(field train_positions_per_s <<<"$j")
    fi
    printf '%-4s | %8s %10s | %8.3f %10.0f | %9.0f %9.0f %9.0f %10.2fx %10.0f\n' "$mode" "$g" "$gt" "$t" "$tt" \
        "$(field weights_mib <<<"$j")" "$(field base_rss_mib <<<"$j")" "$(field peak_rss_mib <<<"$j")" \
        "$(field peak_over_weights <<<"$j")" "$(field logits_mib <<<"$j")"
done
echo "base = resident before training (weights, tokenizer, data): one copy of the weights; the reference" \
    "shares them (a copy would add wts MiB), and the increase to peak is activations"
