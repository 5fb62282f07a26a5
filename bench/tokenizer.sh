#!/usr/bin/env bash
# Tokenizer encode benchmark: manabi against npm tiktoken, on the same machine, in one invocation.
#
#   bench/tokenizer.sh [--runs N] [--en-mb MB] [--ja-mb MB] [--no-pathological] [--perf]
#
# Single-thread encode throughput of gpt2, cl100k_base and o200k_base on English (the first
# EN_MB/2 MB of data/bench/corpus/brown.txt followed by the first EN_MB/2 MB of web.txt; default 6 MB in
# all) and Japanese (the first JA_MB MB of manpages_ja.txt; default 2 MB), each cut at a line end.
#   manabi:   build/bench_tokenizer_encode: tok_encode over the whole text, ordinary text (no
#             specials), a fresh id array each run;
#   tiktoken: bench/tiktoken_encode.mjs: npm tiktoken (OpenAI's Rust core compiled to WASM, in
#             node), encode_ordinary(text), the same way.
# Both load the encoding and read the text first (untimed), do one warm-up encode, then N timed
# ones (default 5), and report the median.  MB = 10^6 bytes of UTF-8 text.  ratio = manabi MB/s
# / tiktoken MB/s.  Both must give the same ids: the benchmark compares the token counts and a
# hash of the ids and prints a WARNING line for any difference.  "regex" is the time manabi's
# PCRE2 split takes alone (the same text split with no BPE) over its whole encode time: what the
# split would cost if the BPE were free.  (--perf attributes less of the encode to PCRE2, since
# inside the encode its work partly overlaps the cache misses of the hash lookups.)
#
# Then o200k_base on inputs that are a single piece each (the BPE's worst case): 'a' * 100000,
# 10 MB of random lowercase letters, 1 MB of hiragana/katakana/kanji with no spaces (taken from
# manpages_ja.txt); tiktoken on the first and the last, once each (about a minute: its merge is
# quadratic in the piece length; it cannot do the 10 MB one); ratio = tiktoken s / manabi s.
# --no-pathological skips them.
#
# --perf: also profile manabi's o200k_base encode (perf record, DWARF call graphs) and attribute
# each sample of the timed encodes to PCRE2 (the regex split), the hash lookups (bpe_lookup:
# hashing, probing, comparing bytes), the BPE merge loop (bpe_encode_piece) or the rest.
#
# Builds its text with bench/corpus_text.sh; fetches the rank files and npm tiktoken itself
# (scripts/fetch_tiktoken.sh).  Nothing here asserts a speed: it measures and prints.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 en_mb=6 ja_mb=2 patho=1 perf=0
usage() { echo "usage: bench/tokenizer.sh [--runs N] [--en-mb MB] [--ja-mb MB] [--no-pathological] [--perf]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --en-mb) en_mb=$2; shift 2 ;;
        --ja-mb) ja_mb=$2; shift 2 ;;
        --no-pathological) patho=0; shift ;;
        --perf) perf=1; shift ;;
        *) usage ;;
    esac
done
export LC_ALL=C.UTF-8
corpus=$(bench/corpus_text.sh)
for s in brown web manpages_ja; do
    [[ -s $corpus/$s.txt ]] || { echo "bench/tokenizer.sh: $corpus/$s.txt missing: run scripts/fetch_corpus.sh" >&2; exit 1; }
done
scripts/fetch_tiktoken.sh >/dev/null
make -s -j"$(nproc)" build/bench_tokenizer_encode >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# head_mb FILE MB: the first MB * 10^6 bytes of FILE, cut after its last complete line.
head_mb() { head -c "$(awk -v m="$2" 'BEGIN { printf "%d", m * 1e6 }')" "$1" | perl -0777 -pe 's/[^\n]*\z//'; }
{ head_mb $corpus/brown.txt "$(awk -v m="$en_mb" 'BEGIN { print m / 2 }')"
  head_mb $corpus/web.txt "$(awk -v m="$en_mb" 'BEGIN { print m / 2 }')"; } >"$tmp/en.txt"
head_mb $corpus/manpages_ja.txt "$ja_mb" >"$tmp/ja.txt"

field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p"; }
str() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

npm=data/tiktoken/npm
vers=$(build/bench_tokenizer_encode --versions)
echo "manabi: build/bench_tokenizer_encode, PCRE2 $(str pcre2 <<<"$vers") (JIT: $(str pcre2_jit <<<"$vers")), gcc $(str compiler <<<"$vers") -O3"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
build/bench_tokenizer_encode --runs "$runs" --split-only "$tmp/en.txt" "$tmp/ja.txt" >"$tmp/manabi.jsonl"
node bench/tiktoken_encode.mjs --npm "$npm" --runs "$runs" "$tmp/en.txt" "$tmp/ja.txt" >"$tmp/tiktoken.jsonl"
tv=$(head -n 1 "$tmp/tiktoken.jsonl")
echo "reference: npm tiktoken $(str tiktoken_npm <<<"$tv") (WASM, node $(str node <<<"$tv")), bench/tiktoken_encode.mjs"
echo "single thread, median of $runs timed encodes after one warm-up; MB = 10^6 bytes"
echo
printf '%-12s %-8s %6s %10s | %11s %12s | %6s | %6s\n' encoding language MB tokens "manabi MB/s" "tiktoken MB/s" ratio regex
warnings=()
while read -r m; do
    enc=$(str encoding <<<"$m") file=$(str file <<<"$m")
    t=$(grep -F "\"encoding\":\"$enc\"" "$tmp/tiktoken.jsonl" | grep -F "\"file\":\"$file\"")
    lang=English; [[ $file == */ja.txt ]] && lang=Japanese
    mt=$(field tokens <<<"$m") tt=$(field tokens <<<"$t") mh=$(str hash <<<"$m") th=$(str hash <<<"$t")
    if [[ $mt != "$tt" || $mh != "$th" ]]; then
        warnings+=("WARNING: $enc $lang: manabi $mt tokens (ids hash $mh), tiktoken $tt tokens (ids hash $th)")
    fi
    printf '%-12s %-8s %6.2f %10d | %11.1f %12.1f | %5.2fx | %5.0f%%\n' "$enc" "$lang" \
        "$(awk -v b="$(field bytes <<<"$m")" 'BEGIN { print b / 1e6 }')" "$mt" \
        "$(field mb_per_s <<<"$m")" "$(field mb_per_s <<<"$t")" "$(div "$(field mb_per_s <<<"$m")" "$(field mb_per_s <<<"$t")")" \
        "$(awk -v s="$(field split_median_s <<<"$m")" -v t="$(field median_s <<<"$m")" 'BEGIN { print 100 * s / t }')"
done <"$tmp/manabi.jsonl"
if [[ ${#warnings[@]} -eq 0 ]]; then echo "ids: identical (count and hash) for every row"; else printf '%s\n' "${warnings[@]}"; fi

if [[ $patho -eq 1 ]]; then
    echo
    echo "o200k_base, one piece each (manabi: median of 3 after a warm-up; tiktoken: one run)"
    build/bench_tokenizer_encode --pathological --runs 3 $corpus/manpages_ja.txt >"$tmp/patho_m.jsonl"
    node bench/tiktoken_encode.mjs --npm "$npm" --runs 1 --pathological $corpus/manpages_ja.txt >"$tmp/patho_t.jsonl"
    printf '%-40s %9s %9s | %10s %11s | %8s\n' input bytes tokens "manabi s" "tiktoken s" ratio
    while read -r m; do
        c=$(str case <<<"$m")
        t=$(grep -F "\"case\":\"$c\"" "$tmp/patho_t.jsonl" || true)
        ts=- ratio=-
        if [[ -n $t ]]; then
            ts=$(printf '%.3f' "$(field median_s <<<"$t")") ratio=$(div "$(field median_s <<<"$t")" "$(field median_s <<<"$m")")x
            [[ $(field tokens <<<"$m") == "$(field tokens <<<"$t")" && $(str hash <<<"$m") == "$(str hash <<<"$t")" ]] ||
                echo "WARNING: $c: manabi $(field tokens <<<"$m") tokens, tiktoken $(field tokens <<<"$t") tokens (or different ids)"
        fi
        printf '%-40s %9d %9d | %10.3f %11s | %8s\n' "$c" "$(field bytes <<<"$m")" "$(field tokens <<<"$m")" \
            "$(field median_s <<<"$m")" "$ts" "$ratio"
    done <"$tmp/patho_m.jsonl"
fi

if [[ $perf -eq 1 ]]; then
    if ! command -v perf >/dev/null; then
        [[ $(id -u) -eq 0 ]] || { echo "bench/tokenizer.sh: --perf needs perf (apt-get install linux-perf)" >&2; exit 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends linux-perf >/dev/null
    fi
    echo
    echo "perf: where manabi's o200k_base encode spends its time (share of the samples in the timed encodes)"
    printf '%-10s %8s | %8s %11s %10s %7s\n' text samples PCRE2 "hash lookup" "BPE merge" other
    for lang in en ja; do
        perf record -q -o "$tmp/perf.data" --call-graph dwarf,16384 -F 1000 \
            build/bench_tokenizer_encode --encodings o200k_base --runs 10 "$tmp/$lang.txt" >/dev/null 2>"$tmp/perf.err" ||
            { cat "$tmp/perf.err" >&2; exit 1; }
        # Each sample goes to the first function, from the leaf up, that names a stage; samples
        # outside time_encode (loading, reading) are left out, and so are those whose stack
        # could not be unwound up to time_encode unless they name a stage and no loading
        # function.  PCRE2's JIT code has no symbols and stops the unwinder: a leaf in it (a
        # perf-PID.map or [JIT] address) is the split.
        perf script -i "$tmp/perf.data" -F ip,sym,dso --no-inline 2>/dev/null | awk -v lang="$lang" '
            BEGIN { RS = "" }
            {
                n = split($0, fr, "\n"); cat = ""; enc = 0; loading = 0
                for (i = 1; i <= n; i++) {
                    if (fr[i] ~ / time_encode /) enc = 1
                    if (fr[i] ~ / (tok_load|load_tiktoken|bpe_init|pretok_new|io_read_file|main) /) loading = 1
                    if (cat != "") continue
                    if (i == 1 && fr[i] ~ /perf-[0-9]+\.map|\[JIT\]/) { cat = "pcre"; enc = 1 }
                    else if (fr[i] ~ / bpe_lookup /) cat = "hash"
                    else if (fr[i] ~ / (pcre2_[a-z0-9_]+|pretok_split) /) cat = "pcre"
                    else if (fr[i] ~ / (bpe_encode_piece|merge_short|merge_long|heap_push|heap_pop) /) cat = "merge"
                    else if (fr[i] ~ / (encode_piece_cb|tok_encode|grow) /) cat = "other"
                }
                if (!enc && (cat == "" || loading)) next
                if (cat == "") cat = "other"
                c[cat]++; total++
            }
            END {
                printf "%-10s %8d | %7.1f%% %10.1f%% %9.1f%% %6.1f%%\n", lang == "en" ? "English" : "Japanese", total,
                    100 * c["pcre"] / total, 100 * c["hash"] / total, 100 * c["merge"] / total, 100 * c["other"] / total
            }'
    done
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
