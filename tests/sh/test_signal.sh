#!/usr/bin/env bash
# SIGINT during training: the run checkpoints the step it reached, exits with status 130,
# leaves no temporary files, and --resume finishes the run with every step logged once.
# The run's output goes through a FIFO that this script reads line by line, so the trainer
# can never get more than a pipe buffer (~500 step lines) ahead of the signal: the run
# (3000 steps) cannot finish before SIGINT arrives, however busy the machine is.
# Breaks when: the signal kills the process, the stop saves nothing (or the wrong step), the
# exit status is 0/1, or resume repeats or skips steps.
set -euo pipefail
source "$(dirname "$0")/lib.sh"  # $MANABI, $WORK (removed on exit), fail, make_shards, ...

make_shards "$WORK"
out=$WORK/run
args=(--train "$WORK/shards/train_*.bin" "${TINY[@]}" --steps 3000 --threads 1 --val-every 0 --ckpt-every 1000
      --out "$out")

mkfifo "$WORK/fifo"
"$MANABI" pretrain "${args[@]}" >"$WORK/fifo" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$WORK"' EXIT
sent=0
while IFS= read -r line; do
    echo "$line" >>"$WORK/first.log"
    if [[ $sent -eq 0 && $line =~ ^step\ +[0-9]+/3000 ]]; then
        kill -INT "$pid"
        sent=1
    fi
done <"$WORK/fifo"
rc=0
wait "$pid" || rc=$?
[[ $sent -eq 1 ]] || { tail -n 5 "$WORK/first.log"; fail "no step line appeared"; }
[[ $rc -eq 130 ]] || { tail -n 5 "$WORK/first.log"; fail "exit status $rc after SIGINT, expected 130"; }

line=$(grep -E '^stopped at step [0-9]+ by a signal' "$WORK/first.log") ||
    { tail -n 5 "$WORK/first.log"; fail "no 'stopped at step N by a signal' line"; }
n=$(echo "$line" | sed -E 's/^stopped at step ([0-9]+).*/\1/')
[[ $n -ge 1 && $n -lt 3000 ]] || fail "stopped at step $n"
ckpt=$(printf '%s/ckpt_%08d.safetensors' "$out" "$n")
state=$(printf '%s/ckpt_%08d.state' "$out" "$n")
[[ -f $ckpt && -f $state ]] || fail "no checkpoint for step $n: $(ls "$out")"
"$MANABI" info "$ckpt" | grep -Eq "^step +$n\$" || fail "$ckpt does not record step $n"
[[ $(readlink "$out/latest.safetensors") == $(basename "$ckpt") ]] || fail "latest.safetensors does not point at step $n"
tmp=$(find "$WORK" -name '*.tmp.*')
[[ -z $tmp ]] || fail "temporary files left behind: $tmp"
echo "ok: SIGINT at step $n: exit 130, checkpoint written"

"$MANABI" pretrain "${args[@]}" --resume >"$WORK/second.log" 2>&1 ||
    { tail -n 5 "$WORK/second.log"; fail "the resumed run failed"; }
grep -q "resuming .* at step $n\$" "$WORK/second.log" || { head -n 3 "$WORK/second.log"; fail "did not resume at step $n"; }
grep -q '^done: 3000 steps' "$WORK/second.log" || { tail -n 3 "$WORK/second.log"; fail "the resumed run did not finish"; }
"$MANABI" info "$out/latest.safetensors" | grep -Eq '^step +3000$' || fail "latest.safetensors is not step 3000"
# Every step logged exactly once across the two invocations.
logged=$(grep -o '"step":[0-9]*,"loss"' "$out/metrics.jsonl" | sort -u | wc -l)
total=$(grep -c '"loss"' "$out/metrics.jsonl")
[[ $logged -eq 3000 && $total -eq 3000 ]] || fail "metrics.jsonl has $total step lines ($logged distinct), expected 3000"
tmp=$(find "$WORK" -name '*.tmp.*')
[[ -z $tmp ]] || fail "temporary files left behind: $tmp"
echo "ok: resumed from step $n and finished"
