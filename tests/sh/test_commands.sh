#!/usr/bin/env bash
# The commands end to end: data shards -> pretrain (with validation) -> info -> loss -> sample.
# Breaks when: shards are not made, the run logs no final val_loss, info misreports the step or
# loss, `manabi loss` and the training loop's validation disagree on the same data (both
# evaluate every window of the val shards: --val-batches 0 / no --max-batches), or sampling
# is not reproducible from its seed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"  # $MANABI, $WORK (removed on exit), fail, make_shards, ...
cd "$WORK"

make_corpus corpus.txt 80
"$MANABI" data shards --out shards --val-fraction 0.15 corpus.txt >shards.log 2>&1 || { cat shards.log; fail "data shards failed"; }
grep -Eq '^train +[0-9]+ documents' shards.log || fail "data shards printed no report"
[[ -f shards/train_000000.bin && -f shards/val_000000.bin ]] || fail "data shards made $(ls shards)"

steps=30
"$MANABI" pretrain --train "shards/train_*.bin" --val "shards/val_*.bin" --out run "${TINY[@]}" --threads 1 \
    --steps $steps --val-every 10 --val-batches 0 --ckpt-every 10 --seed 5 >train.log 2>&1 ||
    { tail -n 5 train.log; fail "pretrain failed"; }
grep -q "^done: $steps steps" train.log || fail "pretrain did not finish"
[[ -f run/config.json && -f run/metrics.jsonl ]] || fail "no config.json / metrics.jsonl in the run directory"

num() { sed -E "s/.*\"$1\":(-?[0-9.eE+-]+|nan|inf).*/\1/"; }
# |a - b| <= tol, with awk doing the arithmetic.
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

last_train=$(grep '"loss"' run/metrics.jsonl | tail -n 1)
[[ $(echo "$last_train" | num step) -eq $steps ]] || fail "the last logged step is not $steps: $last_train"
train_loss=$(echo "$last_train" | num loss)
val_line=$(grep '"val_loss"' run/metrics.jsonl | tail -n 1)
[[ $(echo "$val_line" | num step) -eq $steps ]] || fail "no validation at the final step: $val_line"
val_loss=$(echo "$val_line" | num val_loss)
val_bpb=$(echo "$val_line" | num val_bpb)
first_val=$(grep '"val_loss"' run/metrics.jsonl | head -n 1 | num val_loss)
awk -v a="$val_loss" -v b="$first_val" 'BEGIN { exit !(a < b - 0.1) }' ||
    fail "validation loss did not fall: $first_val -> $val_loss"

# info: the step and the last training loss.
"$MANABI" info run/latest.safetensors >info.txt 2>&1 || { cat info.txt; fail "manabi info failed"; }
grep -Eq "^step +$steps\$" info.txt || { cat info.txt; fail "info does not show step $steps"; }
info_loss=$(grep -E '^loss ' info.txt | awk '{print $2}')
close "$info_loss" "$train_loss" 1e-4 || fail "info shows loss $info_loss, the last step logged $train_loss"
grep -Eq '^family +llama$' info.txt || fail "info does not show the family"
grep -Eq '^layers +1$' info.txt && grep -Eq '^width +32$' info.txt || fail "info does not show the architecture"

# loss --json over the whole validation set = the run's final val_loss.
"$MANABI" loss --ckpt run/latest.safetensors --data "shards/val_*.bin" --json >loss.json 2>loss.err ||
    { cat loss.err; fail "manabi loss failed"; }
[[ $(wc -l <loss.json) -eq 1 ]] && grep -Eq '^\{"loss":[0-9.]+,"bpb":[0-9.]+,"tokens":[0-9]+,.*\}$' loss.json ||
    { cat loss.json; fail "manabi loss --json did not print one JSON object"; }
json_loss=$(num loss <loss.json)
json_bpb=$(num bpb <loss.json)
close "$json_loss" "$val_loss" 1e-4 || fail "manabi loss says $json_loss, the run's final val_loss is $val_loss"
close "$json_bpb" "$val_bpb" 1e-4 || fail "manabi loss says bpb $json_bpb, the run's final val_bpb is $val_bpb"
val_tokens=$(echo "$val_line" | num val_tokens)
[[ $(num tokens <loss.json) -eq $val_tokens ]] || fail "manabi loss evaluated $(num tokens <loss.json) tokens, validation $val_tokens"
echo "ok: loss $json_loss = val_loss $val_loss"

# generate: text after the prompt; the same seed gives the same text, another seed other text,
# and greedy decoding ignores the seed.
smp() { "$MANABI" generate --ckpt run/latest.safetensors --prompt "The cat" --max-tokens 60 "$@"; }
a=$(smp --seed 1) || fail "manabi generate failed"
b=$(smp --seed 1) || fail "manabi generate failed"
c=$(smp --seed 2) || fail "manabi generate failed"
[[ $a == "The cat"* ]] || fail "generate does not start with the prompt: $a"
[[ ${#a} -gt 10 ]] || fail "generate printed almost nothing: '$a'"
[[ $a == "$b" ]] || fail "same seed, different samples: '$a' vs '$b'"
[[ $a != "$c" ]] || fail "seeds 1 and 2 gave the same sample: '$a'"
g1=$(smp --temperature 0 --seed 1) && g2=$(smp --temperature 0 --seed 9) || fail "greedy generation failed"
[[ $g1 == "$g2" ]] || fail "greedy samples differ between seeds"
echo "ok: generate: $a"

# --stop: greedy text cut where a piece of it first appears (compared as bytes).
export LC_ALL=C
stop=${g1:17:3}
cut=$(smp --temperature 0 --stop "$stop") || fail "generate --stop failed"
want=${g1%%"$stop"*}
[[ $cut == "$want" ]] || fail "--stop '$stop': got '$cut', want '$want'"
# --samples and --prompts with --json: one object per answer, each with its finish reason.
printf 'The dog\n\nA bird\n' >prompts.txt
smp --samples 3 --json >s.jsonl || fail "generate --samples --json failed"
[[ $(grep -Ec '^\{"prompt":1,"sample":[123],"text":.*"finish":"(length|stop_token|context)"\}$' s.jsonl) -eq 3 ]] ||
    { cat s.jsonl; fail "expected 3 JSON answers"; }
[[ $(sort -u s.jsonl | wc -l) -eq 3 ]] || fail "the 3 samples are not all different"
"$MANABI" generate --ckpt run/latest.safetensors --prompts prompts.txt --max-tokens 8 --samples 2 --stats \
    >p.txt 2>p.err || { cat p.err; fail "generate --prompts failed"; }
[[ $(grep -Ec '^### prompt [12], sample [12]: [0-9]+ tokens, (length|stop_token)$' p.txt) -eq 4 ]] ||
    { cat p.txt; fail "expected 4 answers"; }
grep -q 'A bird' p.txt && grep -Eq '^prefill [0-9]+ tokens.*decode.*resident' p.err || fail "no stats or prompt: $(cat p.err)"
b16=$(smp --temperature 0 --bf16) || fail "generate --bf16 failed"
[[ $b16 == "The cat"* ]] || fail "bf16 generation: '$b16'"
echo "ok: generate --stop, --samples, --prompts, --bf16"

# chat: one answer to standard input; the interactive loop saves the conversation as JSON.
echo "Hello there" | "$MANABI" chat --ckpt run/latest.safetensors --max-tokens 20 >chat.txt 2>chat.err ||
    { cat chat.err; fail "chat --once failed"; }
printf 'Hi\n/save conv.json\n/reset\n/quit\n' |
    "$MANABI" chat --ckpt run/latest.safetensors --interactive --system "Be brief." --max-tokens 10 >repl.txt 2>&1 ||
    { cat repl.txt; fail "chat --interactive failed"; }
grep -q '^{"messages":\[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":' conv.json ||
    { cat repl.txt conv.json; fail "/save did not write the conversation"; }
grep -q 'conversation reset' repl.txt || fail "/reset did not answer"
echo "ok: chat"
