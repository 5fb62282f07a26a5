#!/usr/bin/env bash
# Data pipeline benchmark on the default corpus (data/raw: books, fortunes, Jargon File,
# Japanese man pages and HTML manuals): (a) the quality filters alone, (b) the whole pipeline
# (read, extract, normalise, language, filters, PII, MinHash, dedup, finish), in MB/s per
# core, once with one thread and once with all cores, then (b) again without the man pages
# (whose groff runs dominate), and (c) the dedup stage's memory per million documents.
# Medians of --runs runs (default 3).  There is no reference implementation to run beside it
# on this machine (datatrove and dolma are Python packages outside Debian), so the figures are
# absolute.
#
#   bench/data_pipeline.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
[[ ${1:-} == --runs ]] && runs=$2
scripts/fetch_corpus.sh --out data/raw >&2
make -s -j"$(nproc)" build/bench_data_pipeline >&2
mapfile -t man <data/raw/manpages_ja.list
mapfile -t html <data/raw/docs_ja.list
for t in 1 "$(nproc)"; do
    echo "== $t thread(s)"
    OMP_NUM_THREADS=$t build/bench_data_pipeline --runs "$runs" data/raw/*.txt "${man[@]}" "${html[@]}"
done
echo "== without the man pages, 1 thread"
OMP_NUM_THREADS=1 build/bench_data_pipeline --runs "$runs" --dedup-docs 1000 data/raw/*.txt "${html[@]}" | sed -n 2p
