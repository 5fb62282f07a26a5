#!/usr/bin/env bash
# The default corpus as plain text files, for the tokenizer benchmarks: data/bench/corpus/
# {brown,web,fortunes,jargon,manpages_ja}.txt, documents separated by a line "<|endoftext|>".
# The first four are the converted sources of scripts/fetch_corpus.sh; manpages_ja.txt is every
# Japanese man page as `manabi data` renders it (no filters, no deduplication), so the
# benchmarks see the text the pipeline starts from.  Idempotent; prints the directory.
#
#   bench/corpus_text.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=data/bench/corpus
if [[ ! -s $out/manpages_ja.txt ]]; then
    scripts/fetch_corpus.sh --out data/raw brown web fortunes jargon manpages_ja >&2
    make -s -j"$(nproc)" build/manabi >&2
    mkdir -p "$out"
    for s in brown web fortunes jargon; do cp data/raw/$s.txt "$out/$s.txt"; done
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mapfile -t pages <data/raw/manpages_ja.list
    build/manabi data pipeline --quiet --out "$tmp/clean" --langs all --disable all --no-pii --no-exact --no-near \
        --no-lines "${pages[@]}" >/dev/null
    /usr/bin/python3 -c 'import json, sys
docs = [json.loads(l)["text"] for f in sys.argv[2:] for l in open(f, encoding="utf-8")]
open(sys.argv[1], "w", encoding="utf-8").write("\n<|endoftext|>\n".join(docs) + "\n")' \
        "$tmp/manpages_ja.txt" "$tmp"/clean/clean/*.jsonl
    mv "$tmp/manpages_ja.txt" "$out/manpages_ja.txt"
fi
echo "$out"
