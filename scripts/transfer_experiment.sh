#!/usr/bin/env bash
# The transfer-learning experiment: does pre-training make fine-tuning work better?
#
#   scripts/transfer_experiment.sh [--base CKPT] [--data DIR] [--out DIR] [--steps N]
#                                  [--fractions "0.1 0.3 1"] [--limit N] [--sft-args "..."]
#
# Fine-tunes the same examples (DIR/train.jsonl, default data/sft from scripts/fetch_sft.sh)
# twice for each fraction of them: (a) from the pre-trained checkpoint, (b) from random weights
# of the same shape, with the same steps, batch and learning rate (full fine-tuning for both:
# LoRA has nothing to adapt on random weights).  Then `manabi eval` on the held-out examples
# (DIR/heldout.jsonl, never trained on): loss per trained token, exact and contained answers,
# and the same per task.  Prints the table, and writes OUT/transfer.json (one line per run)
# and OUT/transfer.svg (held-out loss and accuracy against the fraction of the data).
set -euo pipefail
cd "$(dirname "$0")/.."
base=runs/default/latest.safetensors data=data/sft out=runs/transfer steps=600 fractions="0.1 0.3 1" limit=0
sft_args="--batch 16 --lr 1e-3 --warmup 20"
while [[ $# -gt 0 ]]; do
    case $1 in
        --base) base=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --fractions) fractions=$2; shift 2 ;;
        --limit) limit=$2; shift 2 ;;
        --sft-args) sft_args=$2; shift 2 ;;
        *) sed -n '2,13p' "$0" >&2; exit 2 ;;
    esac
done
manabi=build/manabi
[[ -x $manabi ]] || make -s build/manabi
for f in "$base" "$data/train.jsonl" "$data/heldout.jsonl"; do
    [[ -f $f ]] || { echo "transfer_experiment: $f is missing (./run.sh makes the checkpoint and the data)" >&2; exit 1; }
done
mkdir -p "$out"
: >"$out/transfer.json"
# shellcheck disable=SC2086  # sft_args is a list of flags
for frac in $fractions; do
    for init in pretrained scratch; do
        dir=$out/$init-$frac
        flags=(--full)
        [[ $init == scratch ]] && flags+=(--from-scratch)
        echo "== $init, $frac of the examples, $steps steps"
        $manabi sft --base "$base" --data "$data/train.jsonl" --out "$dir" --steps "$steps" --data-fraction "$frac" \
            "${flags[@]}" $sft_args >"$dir.log" 2>&1 || { tail -n 20 "$dir.log"; exit 1; }
        grep -E '^training on|^step +[0-9]+/[0-9]+ \| loss' "$dir.log" | tail -n 1
        res=$($manabi eval --ckpt "$dir/model.safetensors" --data "$data/heldout.jsonl" --limit "$limit" --json)
        echo "{\"init\":\"$init\",\"fraction\":$frac,\"steps\":$steps,\"eval\":$res}" | tee -a "$out/transfer.json"
    done
done

# The table and the plot, from transfer.json.
awk -v svg="$out/transfer.svg" '
function num(s, key,   m) { return match(s, "\"" key "\":[-0-9.e]+") ? substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0 : -1 }
{
    init = ($0 ~ /"init":"pretrained"/) ? "pretrained" : "scratch"
    f = num($0, "fraction"); loss[init, f] = num($0, "loss"); ex[init, f] = num($0, "exact"); co[init, f] = num($0, "contained")
    if (!(f in seen)) { seen[f] = 1; fr[++nf] = f }
}
END {
    printf "\n%-9s | %-27s | %-27s\n", "", "held-out loss", "answers exact / contained (%)"
    printf "%-9s | %12s %14s | %12s %14s\n", "data", "pre-trained", "from scratch", "pre-trained", "from scratch"
    for (i = 1; i <= nf; i++) {
        f = fr[i]
        printf "%8.0f%% | %12.4f %14.4f | %5.1f / %-5.1f %6.1f / %-5.1f\n", 100 * f, loss["pretrained", f], loss["scratch", f],
            100 * ex["pretrained", f], 100 * co["pretrained", f], 100 * ex["scratch", f], 100 * co["scratch", f]
        if (loss["pretrained", f] < loss["scratch", f]) ahead++
    }
    printf "pre-trained ahead on held-out loss at %d of %d data sizes\n", ahead, nf
    # two panels, x = fraction of the data (log scale), y = loss / contained %
    W = 360; H = 240; L = 60; T = 30
    maxl = 0; maxa = 0
    for (k in loss) if (loss[k] > maxl) maxl = loss[k]
    for (k in co) if (100 * co[k] > maxa) maxa = 100 * co[k]
    if (maxa < 1) maxa = 1
    lo = log(fr[1]); hi = log(fr[nf]); if (hi == lo) hi = lo + 1
    print "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" 2 * (W + L + 20) "\" height=\"" H + T + 50 "\" font-family=\"sans-serif\" font-size=\"12\">" > svg
    for (p = 0; p < 2; p++) {
        ox = L + p * (W + L + 20)
        print "<text x=\"" ox "\" y=\"18\">" (p ? "held-out answers contained (%)" : "held-out loss") "</text>" > svg
        print "<rect x=\"" ox "\" y=\"" T "\" width=\"" W "\" height=\"" H "\" fill=\"none\" stroke=\"#888\"/>" > svg
        top = p ? maxa : maxl
        print "<text x=\"" ox - 5 "\" y=\"" T + 4 "\" text-anchor=\"end\">" sprintf("%.3g", top) "</text>" > svg
        print "<text x=\"" ox - 5 "\" y=\"" T + H "\" text-anchor=\"end\">0</text>" > svg
        for (i = 1; i <= nf; i++) {
            x = ox + (log(fr[i]) - lo) / (hi - lo) * W
            print "<text x=\"" x "\" y=\"" T + H + 16 "\" text-anchor=\"middle\">" 100 * fr[i] "% data</text>" > svg
        }
        for (s = 0; s < 2; s++) {
            init = s ? "scratch" : "pretrained"; color = s ? "#d62728" : "#1f77b4"; pts = ""
            for (i = 1; i <= nf; i++) {
                v = p ? 100 * co[init, fr[i]] : loss[init, fr[i]]
                x = ox + (log(fr[i]) - lo) / (hi - lo) * W; y = T + H - v / top * H
                pts = pts sprintf("%.1f,%.1f ", x, y)
                print "<circle cx=\"" x "\" cy=\"" y "\" r=\"3\" fill=\"" color "\"/>" > svg
            }
            print "<polyline points=\"" pts "\" fill=\"none\" stroke=\"" color "\" stroke-width=\"2\"/>" > svg
            print "<text x=\"" ox + 10 "\" y=\"" T + 16 + 14 * s "\" fill=\"" color "\">" init "</text>" > svg
        }
    }
    print "</svg>" > svg
    print "wrote " svg
}' "$out/transfer.json"
