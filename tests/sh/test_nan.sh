#!/usr/bin/env bash
# A diverging run (learning rate 1e30, no clipping: step 1 throws the weights to ~1e30 and the
# next step's loss or gradient is NaN/inf) stops with a non-zero exit and a message naming the
# step, and never overwrites or corrupts the checkpoints written before.
# Breaks when: the non-finite check is missing (the run "finishes" with NaN weights), the
# message lacks the step, or a bad checkpoint is saved.
set -euo pipefail
source "$(dirname "$0")/lib.sh"  # $MANABI, $WORK (removed on exit), fail, make_shards, ...

make_shards "$WORK"
out=$WORK/run
rc=0
"$MANABI" pretrain --train "$WORK/shards/train_*.bin" "${TINY[@]}" --steps 20 --threads 1 --val-every 0 \
    --lr 1e30 --warmup 0 --grad-clip 0 --ckpt-every 1 --out "$out" >"$WORK/log" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || { tail -n 5 "$WORK/log"; fail "a diverging run exited 0"; }
msg=$(grep -E 'manabi: step [0-9]+: the (loss|gradient norm) is (NaN|infinite)' "$WORK/log") ||
    { tail -n 5 "$WORK/log"; fail "no error message naming the step and the non-finite value"; }
bad=$(echo "$msg" | sed -E 's/^manabi: step ([0-9]+):.*/\1/')
echo "ok: diverged at step $bad (exit $rc): $msg"
[[ $bad -ge 2 ]] || fail "diverged at step $bad, expected a checkpoint before it (check the test's settings)"
grep -qE "^step +$bad/" "$WORK/log" && fail "step $bad was reported as a normal step"

# Every checkpoint written is from before the bad step and loads.
n=0
for f in "$out"/ckpt_*.safetensors; do
    [[ -e $f ]] || break
    step=$(basename "$f" | sed -E 's/^ckpt_0*([0-9]+)\.safetensors$/\1/')
    [[ $step -lt $bad ]] || fail "$f was saved at or after the step that diverged ($bad)"
    info=$("$MANABI" info "$f" 2>&1) || { echo "$info"; fail "$f does not load"; }
    echo "$info" | grep -Eq "^step +$step\$" || fail "$f does not record step $step"
    echo "$info" | grep -Eiq '^loss +(nan|inf|-inf)' && fail "$f records a non-finite loss"
    n=$((n + 1))
done
[[ $n -ge 1 ]] || fail "no checkpoint was written before the divergence"
"$MANABI" info "$out/latest.safetensors" | grep -Eq "^step +$((bad - 1))\$" ||
    fail "latest.safetensors is not the last good step ($((bad - 1)))"
tmp=$(find "$WORK" -name '*.tmp.*')
[[ -z $tmp ]] || fail "temporary files left behind: $tmp"
echo "ok: $n checkpoint(s) before step $bad load"
