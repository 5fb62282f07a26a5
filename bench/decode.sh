#!/usr/bin/env bash
# Generation benchmark: manabi against PyTorch 1.13 with a KV cache, same weights, same prompt,
# same machine, in one invocation.
#
#   bench/decode.sh [--configs "tiny small"] [--families "llama gpt2"] [--reps R]
#                   [--prompt-tokens P] [--new-tokens N]
#
# For each family (default llama) and configuration, build/bench_decode makes a random model
# and a random prompt of P = 128 tokens and writes both under data/bench/decode/; it then times
# single-stream greedy generation of N = 128 tokens (prefill of the prompt, N - 1 decode steps)
# with the checkpoint memory-mapped as `manabi generate` loads it, with float32 weights and again
# with bf16 weights (gpt_to_bf16).  bench/torch_decode.py reads the same checkpoint and prompt
# into the PyTorch reference model (tools/torch_ref/manabi_ref.py) and generates the same way,
# float32, with a preallocated KV cache.  Each side: one warm-up run, then R timed runs (default
# 5), medians of prefill and decode tokens/s.
#
# Printed per row: prefill and decode tokens/s of both (the ratio manabi / PyTorch; PyTorch runs
# float32 only, so the bf16 row compares with its float32), the memory bandwidth manabi measured
# in the same process (all threads reading a 1 GiB buffer), the bound it gives (bytes of weights
# and KV cache a decode step reads / bandwidth), decode as a share of that bound, peak resident
# memory from loading on, and how many of the first 32 greedy tokens agree with PyTorch's (the
# common prefix: after one difference the two continue different texts).  A model whose weights
# fit in the last-level cache can go past the bound.
#
# Kernels and environment: as bench/train_step.sh.  Both use OpenBLAS 0.3.21, with
# OPENBLAS_CORETYPE set to the best core type this CPU supports (SkylakeX with AVX-512, else
# Haswell) and OPENBLAS_L2_SIZE unset; PyTorch gets the OpenMP build of OpenBLAS, threads matched
# (OMP_NUM_THREADS, torch.set_num_threads) and the heap settings of bench/torch_train.py, and
# prints the BLAS it loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
configs="tiny small" families="llama" reps=5 prompt=128 new=128
usage="usage: bench/decode.sh [--configs \"tiny small\"] [--families \"llama gpt2\"] [--reps R] [--prompt-tokens P] [--new-tokens N]"
while [[ $# -gt 0 ]]; do
    case $1 in
        --configs) configs=$2; shift 2 ;;
        --families) families=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --prompt-tokens) prompt=$2; shift 2 ;;
        --new-tokens) new=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
scripts/install_deps.sh --test
make -s -j"$(nproc)" bench >/dev/null
source bench/lib.sh  # threads, core, blas_omp, run, field, str
dir=data/bench/decode
mkdir -p "$dir"
tokens() { sed -n 's/.*"tokens": *\[\([^]]*\)\].*/\1/p' | tr -d ' '; }
# Length of the common prefix of two comma-separated token lists, as "k/n".
agree() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, ","); split(b, y, ","); k = 0;
    while (k < n && x[k + 1] == y[k + 1]) k++; printf "%d/%d", k, n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

l3=$(cat /sys/devices/system/cpu/cpu0/cache/index3/size 2>/dev/null || echo "?")
echo "threads $threads, OPENBLAS_CORETYPE=$core, OPENBLAS_L2_SIZE unset, L3 $l3; prompt $prompt tokens, $new new" \
     "(greedy), $reps timed runs (median)"
printf '%-6s %-6s %-5s | %8s %8s | %8s %8s %6s | %6s %7s %6s | %7s %7s | %6s\n' family config dtype \
    "pre m" "pre t" "dec m" "dec t" ratio "GB/s" bound "%bound" "RSS m" "RSS t" agree
floors=()
for fam in $families; do
    for cfg in $configs; do
        ck=$dir/$fam-$cfg.safetensors
        common=(--family "$fam" --config "$cfg" --prompt-tokens "$prompt" --new-tokens "$new" --reps "$reps" --ckpt "$ck" --json)
        m32=$(run build/bench_decode "${common[@]}" --dtype f32)
        m16=$(run build/bench_decode "${common[@]}" --dtype bf16)  # writes the same checkpoint again
        t=$(run LD_LIBRARY_PATH=$blas_omp /usr/bin/python3 bench/torch_decode.py --ckpt "$ck" --new-tokens "$new" \
            --reps "$reps" --threads "$threads" --json | tail -n 1)
        ttok=$(tokens <<<"$t")
        for m in "$m32" "$m16"; do
            printf '%-6s %-6s %-5s | %8.0f %8.0f | %8.1f %8.1f %6s | %6.1f %7.1f %5.0f%% | %7.0f %7.0f | %6s\n' \
                "$fam" "$cfg" "$(str dtype <<<"$m")" "$(field prefill_tps <<<"$m")" "$(field prefill_tps <<<"$t")" \
                "$(field decode_tps <<<"$m")" "$(field decode_tps <<<"$t")" \
                "$(ratio "$(field decode_tps <<<"$m")" "$(field decode_tps <<<"$t")")" \
                "$(field bandwidth_gbs <<<"$m")" "$(field bound_tps <<<"$m")" \
                "$(awk -v x="$(field bound_fraction <<<"$m")" 'BEGIN{print 100*x}')" \
                "$(field peak_rss_mib <<<"$m")" "$(field peak_rss_mib <<<"$t")" "$(agree "$(tokens <<<"$m")" "$ttok")"
        done
        echo "        bytes/token f32 $(awk -v b="$(field bytes_per_token <<<"$m32")" 'BEGIN{printf "%.1f", b/1048576}') MiB," \
             "bf16 $(awk -v b="$(field bytes_per_token <<<"$m16")" 'BEGIN{printf "%.1f", b/1048576}') MiB" \
             "(KV $(awk -v b="$(field kv_bytes_per_token <<<"$m32")" 'BEGIN{printf "%.1f", b/1048576}') MiB);" \
             "bandwidth of a token-sized buffer $(field bandwidth_ws_gbs <<<"$m32") GB/s;" \
             "same tokens every run: manabi $(grep -q '"deterministic":false' <<<"$m32$m16" && echo NO || echo yes)," \
             "torch $(grep -q '"deterministic": true' <<<"$t" && echo yes || echo NO)"
        echo "        kernels: manabi $(str blas <<<"$m32") ($(str fma <<<"$m32")); torch $(str blas <<<"$t")," \
             "cache $(str cache <<<"$t"), products $(str linear <<<"$t")"
        if [[ $cfg == tiny ]]; then
            r=$(awk -v a="$(field decode_tps <<<"$m32")" -v b="$(field decode_tps <<<"$t")" 'BEGIN{printf "%.2f", a/b}')
            floors+=("$fam tiny: decode f32 ${r}x PyTorch's, floor 3x: $(awk -v r="$r" 'BEGIN{print (r >= 3 ? "met" : "NOT met")}')")
        fi
        if [[ $cfg == small ]]; then
            f=$(field bound_fraction <<<"$m32")
            pct=$(awk -v x="$f" 'BEGIN{printf "%.0f", 100*x}')
            floors+=("$fam small: decode f32 at ${pct}% of the bandwidth bound, floor 70%: $(awk -v x="$f" 'BEGIN{print (x >= 0.7 ? "met" : "NOT met")}')")
        fi
    done
done
echo "columns: pre / dec = prefill / decode tokens/s, m = manabi, t = PyTorch (float32 in both rows);" \
     "ratio = decode manabi / PyTorch; bound = GB/s / bytes per token; RSS = peak MiB from loading on;" \
     "agree = first greedy tokens equal to PyTorch's (bf16 rounds the weights: another model, so an early" \
     "difference is expected); %bound over 100%: the weights a step reads fit in the L3 cache ($l3)"
for f in "${floors[@]}"; do echo "floor: $f"; done
