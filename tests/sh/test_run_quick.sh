#!/usr/bin/env bash
# ./run.sh --quick end to end: sources, cleaning with its report, tokenizer, shards, pre-training,
# generation, LoRA fine-tuning and DPO with their evaluations, and a chat turn, in about 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ ${BUILD:-build} != build ]]; then
    echo "run.sh uses the optimised build; it runs in the non-sanitizer pass"
    exit 77
fi
start=$(date +%s)
out=$(./run.sh --quick 2>&1) || { echo "$out" | tail -n 40; echo "run.sh --quick failed"; exit 1; }
elapsed=$(( $(date +%s) - start ))
echo "$out" | tail -n 25
# The loss fell: the last training loss is clearly below the first (6.9 -> 5.7 here).
first=$(grep -m1 -o 'loss [0-9.]*' <<<"$out" | awk '{print $2}')
last=$(grep '^step ' <<<"$out" | grep -o '| loss [0-9.]*' | tail -n 1 | awk '{print $3}')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.5) }' || { echo "loss did not fall: $first -> $last"; exit 1; }
grep -q '^step *[0-9]*/[0-9]* | loss' <<<"$out" || { echo "no progress lines"; exit 1; }
grep -q 'generate: ' <<<"$out" || { echo "no generation"; exit 1; }
grep -Eq '^prefill [0-9]+ tokens .* decode [0-9]+ tokens' <<<"$out" || { echo "no generation stats"; exit 1; }
grep -q 'chat with the tuned model' <<<"$out" || { echo "run.sh did not end with a chat"; exit 1; }
[[ $(grep -c 'answered: exact' <<<"$out") -eq 3 ]] || { echo "no evaluation before and after fine-tuning and DPO"; exit 1; }
grep -Eq '^step +10/10 \| held-out loss [0-9.]+ \| reward accuracy' <<<"$out" || { echo "DPO printed no held-out pairs"; exit 1; }
[[ -f runs/quick-dpo/adapter.safetensors ]] || { echo "no adapter from DPO"; exit 1; }
grep -Eq '^16 prompts: A wins [0-9.]+%' <<<"$out" || { echo "no win rate"; exit 1; }
[[ -f runs/quick-sft/adapter.safetensors ]] || { echo "no adapter from the fine-tuning"; exit 1; }
# The corpus went through the cleaning pipeline and its report was printed.
for stage in read extract normalize quality exact_dedup near_dedup line_dedup; do
    grep -q "^$stage " <<<"$out" || { echo "the report has no '$stage' line"; exit 1; }
done
[[ -s data/clean-quick/report.json ]] || { echo "no data/clean-quick/report.json"; exit 1; }
ls data/clean-quick/clean/*.jsonl >/dev/null || { echo "no clean JSONL"; exit 1; }
echo "run.sh --quick took ${elapsed}s (loss $first -> $last)"
