#!/usr/bin/env bash
# Language identification accuracy on real text: builds the labelled man-page sample
# (scripts/langid_sample.sh, data/langid/sample.jsonl, about two minutes the first time, then
# kept) and runs build/bench_langid on it, which fails below 0.99 accuracy for English or
# Japanese on paragraphs of 200 characters or more.  Skipped (77) only when the man-page
# packages are missing and cannot be installed (not root, no package mirror).
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
build=$(basename "$(dirname "$MANABI")")
san=0
[[ $build == build-san ]] && san=1
make -s SAN=$san "$build/bench_langid" >"$WORK/make.log" 2>&1 || { cat "$WORK/make.log"; fail "building $build/bench_langid failed"; }

sample=${LANGID_SAMPLE:-data/langid/sample.jsonl}
if [[ ! -s $sample ]]; then
    if ! scripts/langid_sample.sh --out "$sample" >"$WORK/sample.log" 2>&1; then
        if grep -q -e "must run as root" -e "apt-get install failed" "$WORK/sample.log"; then
            echo "man-page packages not installed and not installable: $(tail -n 1 "$WORK/sample.log")"
            exit 77
        fi
        cat "$WORK/sample.log"
        fail "scripts/langid_sample.sh failed"
    fi
    cat "$WORK/sample.log"
fi
# Under the sanitizers the timings mean nothing: one run.
runs=5
[[ $san == 1 ]] && runs=1
"$build/bench_langid" --runs "$runs" --min-chars 200 --min-en 0.99 --min-ja 0.99 "$sample" ||
    fail "bench_langid: accuracy below the floor (see above)"
