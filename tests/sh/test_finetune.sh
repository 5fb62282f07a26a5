#!/usr/bin/env bash
# Fine-tuning end to end: pretrain a tiny base -> manabi sft (LoRA, and full with frozen
# embeddings) -> manabi eval (with the adapter unmerged, and merged by `manabi lora merge`:
# the same held-out loss) -> generate and chat with the adapter; and the errors: an adapter on
# another base, a bad line in strict mode, LoRA from scratch, an unknown target; then DPO from
# the fine-tuned model on preference pairs, a reward model, the win rate it judges, GRPO, and
# comparisons by a person stored in SQLite.
set -euo pipefail
source "$(dirname "$0")/lib.sh"  # $MANABI, $WORK (removed on exit), fail, expect_fail, ...
cd "$WORK"

make_corpus corpus.txt 60
"$MANABI" data shards --out shards --val-fraction 0 corpus.txt >/dev/null 2>&1 || fail "data shards failed"
base() {  # base DIR SEED
    "$MANABI" pretrain --train "shards/train_*.bin" --out "$1" "${TINY[@]}" --threads 1 --steps 15 --seed "$2" \
        >"$1.log" 2>&1 || { tail -n 5 "$1.log"; fail "pretrain failed"; }
}
base run 5
base other 6

# A toy task: four questions with two-letter answers, in the three formats.
cat >toy.jsonl <<'EOF'
{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "xq"}], "task": "toy"}
{"prompt": "b", "completion": "yr"}
{"instruction": "c", "input": "", "output": "zs"}
{"messages": [{"role": "user", "content": "d"}, {"role": "assistant", "content": "wt"}], "answers": ["ZZ"]}
EOF

"$MANABI" sft --base run/latest.safetensors --data toy.jsonl --val toy.jsonl --out lora --steps 40 --batch 4 \
    --lr 1e-2 --targets all >sft.log 2>&1 || { cat sft.log; fail "sft (LoRA) failed"; }
[[ -f lora/adapter.safetensors && -f lora/adapter_config.json ]] || fail "no adapter files: $(ls lora)"
grep -q '"peft_type": "LORA"' lora/adapter_config.json || fail "adapter_config.json is not PEFT's"
grep -q '^fine-tuning data: 4 lines' sft.log && grep -q 'kept 4' sft.log || { cat sft.log; fail "no data report"; }
[[ $(grep -c '"loss"' lora/metrics.jsonl) -eq 40 ]] || fail "metrics.jsonl has $(grep -c '"loss"' lora/metrics.jsonl) steps"
first=$(grep -m1 -o '"loss":[0-9.]*' lora/metrics.jsonl | cut -d: -f2)
last=$(grep -o '"loss":[0-9.]*' lora/metrics.jsonl | tail -n 1 | cut -d: -f2)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' || fail "LoRA loss did not fall: $first -> $last"

ev() { "$MANABI" eval --data toy.jsonl --json --max-tokens 4 "$@"; }
with=$(ev --ckpt run/latest.safetensors --lora lora/adapter.safetensors) || fail "eval with the adapter failed"
[[ $with =~ \"loss\":([0-9.]+) ]] && l1=${BASH_REMATCH[1]} || fail "eval printed no loss: $with"
grep -q '"answered":4' <<<"$with" && grep -q '"tasks":{"toy":{"n":1' <<<"$with" || fail "eval JSON: $with"
"$MANABI" lora merge --base run/latest.safetensors --adapter lora/adapter.safetensors --out merged.safetensors \
    >/dev/null || fail "lora merge failed"
merged=$(ev --ckpt merged.safetensors) || fail "eval of the merged model failed"
[[ $merged =~ \"loss\":([0-9.]+) ]] && l2=${BASH_REMATCH[1]}
awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; exit !(d < 1e-3 && d > -1e-3) }' ||
    fail "merged loss $l2 differs from the adapter's $l1"
plain=$(ev --ckpt run/latest.safetensors --no-answers)
[[ $plain =~ \"loss\":([0-9.]+) ]] && l0=${BASH_REMATCH[1]}
awk -v a="$l0" -v b="$l1" 'BEGIN { exit !(b < a) }' || fail "the adapter did not lower the held-out loss: $l0 -> $l1"
echo "ok: LoRA: held-out loss $l0 -> $l1 (merged $l2)"

"$MANABI" generate --ckpt run/latest.safetensors --lora lora/adapter.safetensors --prompt "The" --max-tokens 8 \
    --stats >gen.txt 2>gen.err || { cat gen.err; fail "generate --lora failed"; }
grep -q 'LoRA adapter' gen.err || fail "--stats does not mention the adapter: $(cat gen.err)"
echo a | "$MANABI" chat --ckpt run/latest.safetensors --lora lora/adapter.safetensors --max-tokens 4 >/dev/null ||
    fail "chat --lora failed"

"$MANABI" sft --base run/latest.safetensors --data toy.jsonl --out full --steps 5 --batch 2 --full \
    --freeze-embeddings >full.log 2>&1 || { cat full.log; fail "sft --full failed"; }
"$MANABI" info full/model.safetensors >/dev/null || fail "the fully fine-tuned checkpoint does not load"
ev --ckpt full/model.safetensors --no-answers >/dev/null || fail "eval of the full fine-tune failed"
echo "ok: full fine-tuning"

expect_fail "an adapter on another base" "other weights" \
    "$MANABI" eval --ckpt other/latest.safetensors --lora lora/adapter.safetensors --data toy.jsonl
printf '{"messages": [{"role": "user", "content": "hi"}]}\n' >bad.jsonl
expect_fail "a conversation without an answer, strict" "bad.jsonl:1" \
    "$MANABI" sft --base run/latest.safetensors --data bad.jsonl --out x --strict
expect_fail "only bad lines" "no usable example" "$MANABI" sft --base run/latest.safetensors --data bad.jsonl --out x
expect_fail "LoRA from scratch" "--full" \
    "$MANABI" sft --base run/latest.safetensors --data toy.jsonl --out x --from-scratch
expect_fail "an unknown LoRA target" "'nope'" \
    "$MANABI" sft --base run/latest.safetensors --data toy.jsonl --out x --targets q,nope
expect_fail "lora merge without an adapter" "--adapter" "$MANABI" lora merge --base run/latest.safetensors --out y
echo "ok: fine-tuning errors"

# DPO from the LoRA fine-tune: pairs in TRL's format, the reference = the fine-tuned model.
cat >pairs.jsonl <<'EOF2'
{"prompt": "a", "chosen": "xq", "rejected": "yr"}
{"prompt": [{"role": "user", "content": "b"}], "chosen": "yr", "rejected": "zs"}
{"prompt": "c", "chosen": "zs", "rejected": "zs"}
EOF2
"$MANABI" dpo --base run/latest.safetensors --sft-lora lora/adapter.safetensors --data pairs.jsonl --val pairs.jsonl \
    --out dpo --steps 20 --batch 2 --lr 1e-2 --targets all >dpo.log 2>&1 || { cat dpo.log; fail "dpo failed"; }
grep -q '2 pairs kept, 1 skipped (identical)' dpo.log || { cat dpo.log; fail "dpo did not count the identical pair"; }
[[ -f dpo/base.safetensors && -f dpo/adapter.safetensors && $(grep -c '"loss"' dpo/metrics.jsonl) -eq 20 ]] ||
    fail "dpo wrote $(ls dpo)"
acc=$(grep -o '"val_accuracy":[0-9.]*' dpo/metrics.jsonl | tail -n 1 | cut -d: -f2)
awk -v a="$acc" 'BEGIN { exit !(a == 1) }' || { cat dpo.log; fail "DPO did not rank both pairs right: $acc"; }
ev --ckpt dpo/base.safetensors --lora dpo/adapter.safetensors >/dev/null || fail "eval after DPO failed"
expect_fail "the DPO adapter on the pre-trained base" "other weights" \
    "$MANABI" eval --ckpt run/latest.safetensors --lora dpo/adapter.safetensors --data toy.jsonl
printf '{"prompt": "a", "chosen": "x", "rejected": "x"}\n' >same.jsonl
expect_fail "only identical pairs" "no usable preference pair" \
    "$MANABI" dpo --base run/latest.safetensors --data same.jsonl --out y
echo "ok: DPO"

# A reward model on the same pairs, then the DPO model against the fine-tuned one, judged by it.
"$MANABI" rm --base run/latest.safetensors --sft-lora lora/adapter.safetensors --data pairs.jsonl --val pairs.jsonl \
    --out rm --steps 30 --batch 2 --lr 1e-2 --targets all >rm.log 2>&1 || { cat rm.log; fail "rm failed"; }
grep -q 'held-out pairs right 100.0%' rm.log || { cat rm.log; fail "the reward model did not rank both pairs right"; }
[[ -f rm/base.safetensors && -f rm/adapter.safetensors && -f rm/head.safetensors ]] || fail "rm wrote $(ls rm)"
"$MANABI" winrate --rm rm --ckpt dpo/base.safetensors --lora dpo/adapter.safetensors --vs run/latest.safetensors \
    --vs-lora lora/adapter.safetensors --prompts toy.jsonl --max-tokens 4 --json >win.json 2>win.err ||
    { cat win.err; fail "winrate failed"; }
grep -Eq '^\{"prompts":4,"win_rate":[0-9.]+,"reward_a":-?[0-9.]+,"reward_b":-?[0-9.]+,"kl_a_b":-?[0-9.]+\}$' win.json ||
    fail "winrate printed: $(cat win.json)"
expect_fail "winrate without a reward model" "nowhere/model.safetensors" \
    "$MANABI" winrate --rm nowhere --ckpt run/latest.safetensors --vs run/latest.safetensors --prompts toy.jsonl
echo "ok: reward model and win rate"

# GRPO from the fine-tuned model: rewarded by exact match with the toy answers, then by the
# reward model.
"$MANABI" rl --base run/latest.safetensors --sft-lora lora/adapter.safetensors --prompts toy.jsonl --out rl \
    --steps 5 --group 4 --batch 2 --max-tokens 4 >rl.log 2>&1 || { cat rl.log; fail "rl (exact) failed"; }
grep -Eq '^step +5/5 \| reward [0-9.]+ \(spread [0-9.]+\) \| KL [0-9.]+ per token' rl.log || { cat rl.log; fail "rl printed no steps"; }
[[ -f rl/base.safetensors && -f rl/adapter.safetensors ]] || fail "rl wrote $(ls rl)"
"$MANABI" rl --base run/latest.safetensors --sft-lora lora/adapter.safetensors --prompts toy.jsonl --out rl2 \
    --reward rm --rm rm --steps 3 --group 2 --batch 2 --max-tokens 4 >rl2.log 2>&1 || { cat rl2.log; fail "rl (rm) failed"; }
ev --ckpt rl/base.safetensors --lora rl/adapter.safetensors >/dev/null || fail "eval after rl failed"
expect_fail "rl with an unknown reward" "--reward" \
    "$MANABI" rl --base run/latest.safetensors --prompts toy.jsonl --out x --reward lucky
expect_fail "rl with a reward model of no directory" "--rm" \
    "$MANABI" rl --base run/latest.safetensors --prompts toy.jsonl --out x --reward rm
echo "ok: GRPO"

# A person's comparisons: three questions answered 1, t, then 2; stored in SQLite, exported as
# pairs DPO reads.
printf '1\nt\n2\n' | "$MANABI" compare --db people.db --ckpt dpo/base.safetensors --lora dpo/adapter.safetensors \
    --vs run/latest.safetensors --vs-lora lora/adapter.safetensors --prompts toy.jsonl --limit 3 --max-tokens 4 \
    --rater tester >cmp.txt 2>&1 || { cat cmp.txt; fail "compare failed"; }
grep -q '^3 comparisons: A better [01], B better [01], tie 1, both bad 0$' cmp.txt || { cat cmp.txt; fail "compare did not store 3"; }
[[ $(grep -c '^\[1\] ' cmp.txt) -eq 3 ]] || fail "compare did not show both answers three times"
"$MANABI" compare export --db people.db --out people.jsonl >/dev/null || fail "compare export failed"
[[ $(wc -l <people.jsonl) -eq 2 ]] && grep -q '"rater":"tester"' people.jsonl || fail "export: $(cat people.jsonl)"
printf 'q\n' | "$MANABI" compare --db people.db --ckpt run/latest.safetensors --vs run/latest.safetensors \
    --prompts toy.jsonl >/dev/null || fail "compare with an early quit failed"
"$MANABI" compare stats --db people.db | grep -q '^3 comparisons' || fail "compare stats"
echo "not a database at all, but text long enough to fill a header page of sqlite......" >junk.db
expect_fail "compare on a corrupt store" "junk.db" "$MANABI" compare stats --db junk.db
echo "ok: compare"
"$MANABI" rl --algo ppo --base run/latest.safetensors --sft-lora lora/adapter.safetensors --prompts toy.jsonl \
    --out ppo --steps 4 --group 2 --batch 2 --max-tokens 4 >ppo.log 2>&1 || { cat ppo.log; fail "rl --algo ppo failed"; }
grep -q '^PPO of ' ppo.log && [[ -f ppo/adapter.safetensors ]] || { cat ppo.log; fail "PPO wrote $(ls ppo)"; }
echo "ok: PPO"
