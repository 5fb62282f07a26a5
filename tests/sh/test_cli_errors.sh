#!/usr/bin/env bash
# Bad input gives a non-zero exit and a message naming the file or flag at fault; failing
# 'data shards' runs leave nothing in their output directory; help exits 0.
# Breaks when: any of these errors is swallowed (exit 0), reported without naming the culprit,
# or a failed shard build leaves a partial corpus behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"  # $MANABI, $WORK (removed on exit), fail, make_shards, ...

make_shards "$WORK"
cd "$WORK"
train="shards/train_*.bin"
fast=("${TINY[@]}" --threads 1 --steps 2 --val-every 0)

# ---- flags ----
expect_fail "unknown flag" "--bogus" "$MANABI" pretrain --train "$train" --bogus 1
expect_fail "missing --train" "--train" "$MANABI" pretrain --out run "${fast[@]}"
expect_fail "flag without a value" "--train needs a value" "$MANABI" pretrain --train
expect_fail "non-numeric integer" "--steps" "$MANABI" pretrain --train "$train" --steps abc
expect_fail "non-numeric float" "--lr" "$MANABI" pretrain --train "$train" --lr 1e-3x
expect_fail "unknown family" "--family" "$MANABI" pretrain --train "$train" --family gpt3
expect_fail "unknown schedule" "--schedule" "$MANABI" pretrain --train "$train" --schedule cos
expect_fail "unknown command" "frobnicate" "$MANABI" frobnicate
expect_fail "help for an unknown command" "frobnicate" "$MANABI" help frobnicate
expect_fail "no command" "usage" "$MANABI"

# ---- data for pretrain ----
expect_fail "--train matching nothing" "nothing_*.bin" "$MANABI" pretrain --train "nothing_*.bin" --out run "${fast[@]}"
expect_fail "--val matching nothing" "--val" "$MANABI" pretrain --train "$train" --val "nothing_*.bin" --out run "${fast[@]}"
first=$(ls shards/train_*.bin | head -n 1)
size=$(stat -c %s "$first")
head -c $((size - 3)) "$first" >truncated.bin
expect_fail "truncated shard" "truncated.bin|truncated" "$MANABI" pretrain --train truncated.bin --out run "${fast[@]}"
{ printf 'XXXX'; tail -c +5 "$first"; } >magic.bin
expect_fail "wrong-magic shard" "magic.bin|not a token shard" "$MANABI" pretrain --train magic.bin --out run "${fast[@]}"
# A shard in llm.c's format (no vocabulary recorded) holding GPT-2 ids (50256 = <|endoftext|>):
# made for a far bigger vocabulary than the byte-level model's 261.
{
    printf '\x88\xd8\x34\x01\x01\x00\x00\x00\x40\x00\x00\x00'  # 20240520, version 1, 64 tokens
    head -c 1012 /dev/zero
    for i in $(seq 64); do printf '\x50\xc4'; done
} >gpt2ids.bin
expect_fail "shard for a bigger vocabulary" "gpt2ids.bin|50256|vocabulary of 261" "$MANABI" pretrain --train gpt2ids.bin --out run "${fast[@]}"
expect_fail "--vocab smaller than the tokenizer's" "--vocab 200|261" "$MANABI" pretrain --train "$train" --vocab 200 --out run "${fast[@]}"
expect_fail "--init-from a missing file" "nope.safetensors" \
    "$MANABI" pretrain --train "$train" --init-from nope.safetensors --out run "${fast[@]}"

# ---- resume with a checkpoint that does not fit ----
"$MANABI" pretrain --train "$train" --out run "${fast[@]}" >run.log 2>&1 || { cat run.log; fail "a 2-step run failed"; }
[[ -f run/ckpt_00000002.safetensors ]] || fail "the 2-step run wrote no checkpoint"
expect_fail "--resume with a longer --seq-len than the checkpoint's context" "--seq-len" \
    "$MANABI" pretrain --train "$train" --out run --resume "${fast[@]}" --steps 4 --seq-len 64
expect_fail "--resume with another architecture" "ckpt_00000002.safetensors|d_ff|config.json" \
    "$MANABI" pretrain --train "$train" --out run --resume "${fast[@]}" --steps 4 --mlp-width 200
# A sequential run that has moved on to its second shard (shards of 1000 tokens hold 31
# windows of 33; 6 steps of 8 read 48); resuming it on the first shard alone must fail.
"$MANABI" data shards --out small --shard-tokens 1000 --val-fraction 0 corpus.txt >small.log 2>&1 ||
    { cat small.log; fail "data shards --shard-tokens 1000 failed"; }
[[ -f small/train_000001.bin ]] || fail "expected several 1000-token shards"
"$MANABI" pretrain --train "small/train_*.bin" --out seq "${fast[@]}" --sequential --batch 8 --steps 6 \
    >seq.log 2>&1 || { cat seq.log; fail "a sequential run failed"; }
expect_fail "--resume with fewer --train shards than the checkpoint's position" "--train|ckpt_00000006.state" \
    "$MANABI" pretrain --train small/train_000000.bin --out seq --resume "${fast[@]}" --sequential --batch 8 --steps 8

# ---- info, sample, loss ----
expect_fail "info on a text file" "corpus.txt|not a safetensors file" "$MANABI" info corpus.txt
expect_fail "info on a shard" "$first" "$MANABI" info "$first"
expect_fail "info on a missing file" "missing.safetensors|No such file" "$MANABI" info missing.safetensors
expect_fail "info on a state file" "manabi.config" "$MANABI" info run/ckpt_00000002.state
expect_fail "generate with a negative temperature" "--temperature" \
    "$MANABI" generate --ckpt run/latest.safetensors --prompt x --temperature -0.5
expect_fail "generate with top-p above 1" "--top-p 1.5" \
    "$MANABI" generate --ckpt run/latest.safetensors --prompt x --top-p 1.5
expect_fail "generate from a missing checkpoint" "gone.safetensors" "$MANABI" generate --ckpt gone.safetensors --prompt x
expect_fail "generate with an empty prompt" "prompt is empty" "$MANABI" generate --ckpt run/latest.safetensors --prompt ""
expect_fail "generate with a prompt longer than the context" "more than the model's context" \
    "$MANABI" generate --ckpt run/latest.safetensors --prompt "$(head -c 3000 corpus.txt)"
expect_fail "generate with an empty stop string" "--stop" \
    "$MANABI" generate --ckpt run/latest.safetensors --prompt x --stop ""
"$MANABI" tokenizer train --vocab-size 300 --out other.tok corpus.txt >/dev/null 2>&1 || fail "tokenizer train failed"
expect_fail "generate with another tokenizer" "trained with tokenizer 'byte'" \
    "$MANABI" generate --ckpt run/latest.safetensors --prompt x --tokenizer other.tok
expect_fail "chat with nothing on standard input" "standard input is empty" \
    "$MANABI" chat --ckpt run/latest.safetensors </dev/null
expect_fail "loss on missing data" "nothing_*.bin" "$MANABI" loss --ckpt run/latest.safetensors --data "nothing_*.bin"

# ---- data shards: errors leave no partial output ----
no_output() {  # no_output DIR NAME: DIR is absent or holds no file at all
    local left
    left=$(find "$1" -type f 2>/dev/null || true)
    [[ -z $left ]] || fail "$2: files left in $1: $left"
}
make_corpus good.txt 40
printf 'some text\0with a NUL byte\n' >nul.txt
# Small shards so that good.txt's tokens are already written when the bad input is read.
expect_fail "data shards with a missing input" "missing.txt" \
    "$MANABI" data shards --out out1 --shard-tokens 64 good.txt missing.txt
no_output out1 "missing input"
expect_fail "data shards with a NUL byte" "nul.txt|NUL" "$MANABI" data shards --out out2 --shard-tokens 64 good.txt nul.txt
no_output out2 "NUL byte"
printf '<|endoftext|>\n\n<|endoftext|>\n' >empty.txt
expect_fail "data shards with no documents" "no training documents" "$MANABI" data shards --out out3 empty.txt
no_output out3 "no documents"
expect_fail "data shards --val-fraction out of range" "--val-fraction" \
    "$MANABI" data shards --out out4 --val-fraction 1.5 good.txt
no_output out4 "--val-fraction"
expect_fail "data shards without --out" "--out" "$MANABI" data shards good.txt
expect_fail "data shards with a non-numeric --shard-tokens" "--shard-tokens" \
    "$MANABI" data shards --out out5 --shard-tokens many good.txt
no_output out5 "--shard-tokens"

# ---- help ----
"$MANABI" help >help.txt 2>&1 || fail "manabi help exited non-zero"
grep -q pretrain help.txt || fail "manabi help does not list pretrain"
"$MANABI" help pretrain >help_pretrain.txt 2>&1 || fail "manabi help pretrain exited non-zero"
grep -q -- "--train" help_pretrain.txt || fail "manabi help pretrain does not describe --train"
"$MANABI" pretrain --help >/dev/null 2>&1 || fail "manabi pretrain --help exited non-zero"
echo "ok: every error named its cause"
