#!/usr/bin/env bash
# Exact resume: 20 steps in one go and 10 steps (--stop-after 10) + --resume for the rest give
# bit-identical weights, optimizer state and per-step losses (metrics.jsonl prints the loss
# with %.9g, enough to tell float results apart).  Also: --keep 2 keeps exactly two
# checkpoints and latest.safetensors points at the newest.
# Breaks when: the loader position/RNG or AdamW's step count is not saved or not restored,
# the schedule restarts on resume, or pruning/latest are wrong.
set -euo pipefail
source "$(dirname "$0")/lib.sh"  # $MANABI, $WORK (removed on exit), fail, make_shards, ...

make_shards "$WORK"
common=(--train "$WORK/shards/train_*.bin" "${TINY[@]}" --batch-tokens 128 --steps 20 --warmup 4
        --seed 7 --threads 2 --ckpt-every 5 --keep 2 --val-every 0)

"$MANABI" pretrain "${common[@]}" --out "$WORK/straight" >"$WORK/straight.log" 2>&1 ||
    { tail -n 5 "$WORK/straight.log"; fail "the straight run failed"; }

rc=0
"$MANABI" pretrain "${common[@]}" --out "$WORK/split" --stop-after 10 >"$WORK/first.log" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || { tail -n 5 "$WORK/first.log"; fail "the --stop-after 10 run exited $rc"; }
grep -q "stopped at step 10" "$WORK/first.log" || { tail -n 5 "$WORK/first.log"; fail "the first half did not stop at step 10"; }
[[ -f $WORK/split/ckpt_00000010.safetensors && -f $WORK/split/ckpt_00000010.state ]] ||
    fail "no step-10 checkpoint after --stop-after 10"
[[ ! -e $WORK/split/ckpt_00000015.safetensors ]] || fail "the first half ran past step 10"

"$MANABI" pretrain "${common[@]}" --out "$WORK/split" --resume >"$WORK/second.log" 2>&1 ||
    { tail -n 5 "$WORK/second.log"; fail "the resumed run failed"; }
grep -q "resuming .*ckpt_00000010.safetensors at step 10" "$WORK/second.log" ||
    { head -n 5 "$WORK/second.log"; fail "the resumed run did not start from the step-10 checkpoint"; }

# Bitwise identical results.
cmp "$WORK/straight/ckpt_00000020.safetensors" "$WORK/split/ckpt_00000020.safetensors" ||
    fail "step-20 weights differ between the straight and the resumed run"
cmp "$WORK/straight/ckpt_00000020.state" "$WORK/split/ckpt_00000020.state" ||
    fail "step-20 optimizer state differs between the straight and the resumed run"
cmp "$WORK/straight/ckpt_00000015.safetensors" "$WORK/split/ckpt_00000015.safetensors" ||
    fail "step-15 weights differ"

# Per-step losses: step, loss, grad_norm, lr and tokens of every training line.
steps() { grep '"loss"' "$1" | sed -E 's/.*("step":[0-9]+,"loss":[^,]+,"lr":[^,]+,"grad_norm":[^,]+,"tokens":[0-9]+).*/\1/'; }
steps "$WORK/straight/metrics.jsonl" >"$WORK/a.txt"
steps "$WORK/split/metrics.jsonl" >"$WORK/b.txt"
[[ $(wc -l <"$WORK/a.txt") -eq 20 ]] || fail "the straight run logged $(wc -l <"$WORK/a.txt") steps, expected 20"
grep -Eq '"loss":[0-9]+\.[0-9]{7,}' "$WORK/a.txt" || fail "metrics.jsonl prints too few digits of the loss for a bitwise check"
diff "$WORK/a.txt" "$WORK/b.txt" || fail "per-step metrics differ between the straight and the resumed run"

# --keep 2: two checkpoints (weights and state), latest -> the newest.
for d in straight split; do
    n=$(ls "$WORK/$d" | grep -c '^ckpt_.*\.safetensors$' || true)
    s=$(ls "$WORK/$d" | grep -c '^ckpt_.*\.state$' || true)
    [[ $n -eq 2 && $s -eq 2 ]] || fail "$d: $n weights and $s state files kept, expected 2 each (--keep 2)"
    [[ -f $WORK/$d/ckpt_00000015.safetensors && -f $WORK/$d/ckpt_00000020.safetensors ]] ||
        fail "$d: the kept checkpoints are not steps 15 and 20: $(ls "$WORK/$d")"
    [[ -L $WORK/$d/latest.safetensors ]] || fail "$d: latest.safetensors is not a symlink"
    [[ $(readlink "$WORK/$d/latest.safetensors") == ckpt_00000020.safetensors ]] ||
        fail "$d: latest.safetensors -> $(readlink "$WORK/$d/latest.safetensors"), expected ckpt_00000020.safetensors"
    "$MANABI" info "$WORK/$d/latest.safetensors" | grep -Eq '^step +20$' || fail "$d: latest.safetensors is not step 20"
done
echo "ok: resume is bit-exact"
