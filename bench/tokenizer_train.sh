#!/usr/bin/env bash
# BPE training benchmark: manabi against Hugging Face tokenizers, on the same machine and text, in
# one invocation; then the compression of a 32k manabi tokenizer beside o200k_base.
#
#   bench/tokenizer_train.sh [--runs N] [--skip-bytes-per-token]
#
# 1. Training, one thread, vocabulary 30000, on about 7 MB of text: the first 1 MB of each of
#    brown, web, fortunes and jargon and the first 3 MB of manpages_ja (data/bench/corpus, each cut at
#    a line end), concatenated into one temp file.
#      manabi:       build/manabi tokenizer train --threads 1 --vocab-size 30000 --pattern o200k
#                    (30000 = 256 bytes + 29739 merges + 5 special tokens)
#      tokenizers:   npm tokenizers (pinned below, installed into data/bench/npm), native Node
#                    bindings over the Rust library: byte-level BPE, pre-tokenizer
#                    Sequence[Split(o200k regex), ByteLevel(no prefix space, no regex)], its
#                    default BpeTrainer (vocabulary 30000 = the byte-characters seen + merges),
#                    RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false (bench/hf_tokenizers.mjs).
#    Each runs N times (default 5), alternating; the table shows the median wall time and peak
#    resident memory from /usr/bin/time -f '%e %M' (whole processes: node's own start-up and
#    heap are in the tokenizers figures; the "node alone" line shows them), the CPU use
#    ((user + sys) / wall, ~100% = one thread), and the time of the training call inside the
#    process (train() for tokenizers; manabi prints its own counting and merging times).
#    ratio = tokenizers / manabi.
# 2. Bytes per token on held-out text: the last ~10% of brown.txt and of manpages_ja.txt (from
#    the first document boundary after 90% of the file; separator lines dropped), for
#      o200k_base (tiktoken's ranks, encoded by manabi, which is tiktoken-exact),
#      manabi 32k:  vocabulary 32768 trained (all cores) on the default corpus data/bench/corpus/*.txt
#                   with the held-out tails of brown and manpages_ja removed, pattern o200k,
#      and the two 30k tokenizers of step 1 (their 7 MB never reaches those tails).
#
# Builds its text with bench/corpus_text.sh; fetches o200k_base (scripts/fetch_tiktoken.sh) and
# the npm package itself.  Nothing here asserts a speed: it measures and prints.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 bpt=1
TOKENIZERS_VERSION=0.23.2
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --skip-bytes-per-token) bpt=0; shift ;;
        *) echo "usage: bench/tokenizer_train.sh [--runs N] [--skip-bytes-per-token]" >&2; exit 2 ;;
    esac
done
export LC_ALL=C.UTF-8
die() { echo "bench/tokenizer_train.sh: $*" >&2; exit 1; }
corpus=$(bench/corpus_text.sh)
sources=(brown web fortunes jargon manpages_ja)
for s in "${sources[@]}"; do
    [[ -s $corpus/$s.txt ]] || die "$corpus/$s.txt missing: run scripts/fetch_corpus.sh"
done
scripts/fetch_tiktoken.sh >/dev/null
make -s -j"$(nproc)" build/manabi >/dev/null
if [[ ! -x /usr/bin/time ]]; then
    [[ $(id -u) -eq 0 ]] || die "needs /usr/bin/time (apt-get install time)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends time >/dev/null
fi

# npm tokenizers, pinned, in its own prefix (the native binary ships inside the package).
npm=data/bench/npm
pkg_version() { node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
    "$PWD/$npm/node_modules/tokenizers/package.json"; }
if [[ $(pkg_version) != "$TOKENIZERS_VERSION" ]]; then
    echo "npm install tokenizers@$TOKENIZERS_VERSION -> $npm"
    mkdir -p "$(dirname "$npm")"
    partial=$(mktemp -d "$(dirname "$npm")/.npm.XXXXXX")
    npm install --prefix "$partial" --save-exact --no-audit --no-fund --loglevel=error \
        "tokenizers@$TOKENIZERS_VERSION" >/dev/null || { rm -rf "$partial"; die "npm install tokenizers failed"; }
    chmod 755 "$partial"; rm -rf "$npm"; mv "$partial" "$npm"
    [[ $(pkg_version) == "$TOKENIZERS_VERSION" ]] || die "npm installed an unexpected tokenizers version"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head_mb() { head -c "$(awk -v m="$2" 'BEGIN { printf "%d", m * 1e6 }')" "$1" | perl -0777 -pe 's/[^\n]*\z//'; }
{ for s in brown web fortunes jargon; do head_mb $corpus/$s.txt 1; done; head_mb $corpus/manpages_ja.txt 3; } >"$tmp/train.txt"
pattern=data/tiktoken/o200k_base.json

field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# timed OUT CMD...: runs CMD under /usr/bin/time, appends "wall_s peak_kib cpu_s" to OUT.stats,
# keeps the command's stdout in OUT.log (the last run's).
timed() {
    local out=$1; shift
    /usr/bin/time -f '%e %M %U %S' -o "$out.time" "$@" >"$out.log" 2>"$out.err" || { cat "$out.err" >&2; die "failed: $*"; }
    awk '{ print $1, $2, $3 + $4 }' "$out.time" >>"$out.stats"
}
hf=(env RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false node bench/hf_tokenizers.mjs)

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "training text: $(awk -v b="$(stat -c %s "$tmp/train.txt")" 'BEGIN { printf "%.2f", b / 1e6 }') MB" \
     "(1 MB each of brown, web, fortunes, jargon + 3 MB of manpages_ja), vocabulary 30000, one thread, $runs runs"
for ((i = 0; i < runs; i++)); do
    timed "$tmp/manabi" build/manabi tokenizer train --threads 1 --vocab-size 30000 --pattern o200k \
        --out "$tmp/manabi-30k.json" "$tmp/train.txt"
    timed "$tmp/hf" "${hf[@]}" train --npm "$npm" --pattern "$pattern" --out "$tmp/hf-30k.json" "$tmp/train.txt"
    grep '^{' "$tmp/hf.log" | field train_s >>"$tmp/hf.inner"
done
timed "$tmp/base" "${hf[@]}" baseline --npm "$npm" --pattern "$pattern"
m_merges=$(sed -n 's/.*: \([0-9]*\) merges from.*/\1/p' "$tmp/manabi.log")
h_merges=$(grep '^{' "$tmp/hf.log" | field merges) h_alpha=$(grep '^{' "$tmp/hf.log" | field alphabet)
col() { awk -v c="$2" '{ print $c }' "$1.stats" | median; }
mw=$(col "$tmp/manabi" 1) mm=$(col "$tmp/manabi" 2) mc=$(col "$tmp/manabi" 3)
hw=$(col "$tmp/hf" 1) hm=$(col "$tmp/hf" 2) hc=$(col "$tmp/hf" 3)
echo
printf '%-24s %8s %9s %6s %10s   %s\n' "" "wall s" "peak MiB" CPU "train() s" vocabulary
printf '%-24s %8.2f %9.1f %5.0f%% %10s   %s\n' "manabi" "$mw" "$(awk -v k="$mm" 'BEGIN { print k / 1024 }')" \
    "$(awk -v c="$mc" -v w="$mw" 'BEGIN { print 100 * c / w }')" - \
    "256 bytes + $m_merges merges + 5 specials"
printf '%-24s %8.2f %9.1f %5.0f%% %10.2f   %s\n' "tokenizers $TOKENIZERS_VERSION" "$hw" \
    "$(awk -v k="$hm" 'BEGIN { print k / 1024 }')" "$(awk -v c="$hc" -v w="$hw" 'BEGIN { print 100 * c / w }')" \
    "$(median <"$tmp/hf.inner")" "$h_alpha byte-characters seen + $h_merges merges"
printf '%-24s %8.2f %9.1f\n' "  (node alone)" "$(col "$tmp/base" 1)" "$(awk -v k="$(col "$tmp/base" 2)" 'BEGIN { print k / 1024 }')"
echo "manabi's own report (last run): $(sed -n 's/.*\(counting [0-9.]* s, merging [0-9.]* s\).*/\1/p' "$tmp/manabi.log")"
printf 'ratio tokenizers/manabi: wall %.2fx, peak memory %.2fx\n' "$(awk -v a="$hw" -v b="$mw" 'BEGIN { print a / b }')" \
    "$(awk -v a="$hm" -v b="$mm" 'BEGIN { print a / b }')"

if [[ $bpt -eq 1 ]]; then
    # split_tail FILE TRAIN HELD: HELD gets the text after the first document separator past 90%
    # of FILE (separator lines dropped), TRAIN everything before it.
    split_tail() {
        perl -0777 -e 'open my $f, "<", $ARGV[0] or die; local $/; my $t = <$f>;
            my $sep = "\n<|endoftext|>\n"; my $p = index($t, $sep, int(0.9 * length $t)); die "no separator" if $p < 0;
            open my $a, ">", $ARGV[1] or die; print $a substr($t, 0, $p + 1);
            my $h = substr($t, $p + length $sep); $h =~ s/^<\|endoftext\|>\n//mg;
            open my $b, ">", $ARGV[2] or die; print $b $h' "$1" "$2" "$3"
    }
    split_tail $corpus/brown.txt "$tmp/brown.txt" "$tmp/held_en.txt"
    split_tail $corpus/manpages_ja.txt "$tmp/manpages_ja.txt" "$tmp/held_ja.txt"
    files=("$tmp/brown.txt" $corpus/web.txt $corpus/fortunes.txt $corpus/jargon.txt "$tmp/manpages_ja.txt")
    t0=$(date +%s.%N)
    build/manabi tokenizer train --vocab-size 32768 --pattern o200k --out "$tmp/manabi-32k.json" "${files[@]}" >"$tmp/t32.log"
    t32=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    held_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f", b / 1e6 }'; }
    echo
    echo "bytes per token on held-out text: English = last $(held_mb "$tmp/held_en.txt") MB of brown.txt," \
         "Japanese = last $(held_mb "$tmp/held_ja.txt") MB of manpages_ja.txt"
    echo "(manabi 32k: trained in ${t32} s on all cores, on data/bench/corpus/*.txt less those tails," \
         "$(awk '{ s += $1 } END { printf "%.1f", s / 1e6 }' < <(stat -c %s "${files[@]}")) MB)"
    printf '%-30s %9s %9s\n' tokenizer English Japanese
    bpt_manabi() {  # TOKENIZER NAME
        local row=() f n
        for f in "$tmp/held_en.txt" "$tmp/held_ja.txt"; do
            n=$(build/manabi tokenizer encode -t "$1" "$f" | wc -w)
            row+=("$(awk -v b="$(stat -c %s "$f")" -v n="$n" 'BEGIN { printf "%.3f", b / n }')")
        done
        printf '%-30s %9s %9s\n' "$2" "${row[@]}"
    }
    bpt_manabi data/tiktoken/o200k_base.tiktoken "o200k_base (199,998 + 2)"
    bpt_manabi "$tmp/manabi-32k.json" "manabi 32k (default corpus)"
    bpt_manabi "$tmp/manabi-30k.json" "manabi 30k (7 MB, step 1)"
    "${hf[@]}" count --npm "$npm" --tokenizer "$tmp/hf-30k.json" "$tmp/held_en.txt" "$tmp/held_ja.txt" >"$tmp/hfc.log"
    hf_bpt() { sed -n "$1p" "$tmp/hfc.log" | { read -r l; awk -v b="$(field bytes <<<"$l")" -v n="$(field tokens <<<"$l")" \
        'BEGIN { printf "%.3f", b / n }'; }; }
    printf '%-30s %9s %9s\n' "tokenizers 30k (7 MB, step 1)" "$(hf_bpt 1)" "$(hf_bpt 2)"
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
