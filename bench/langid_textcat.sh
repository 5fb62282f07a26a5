#!/usr/bin/env bash
# Language identification: manabi's li_identify against libexttextcat (Debian's C n-gram text
# categoriser, the one LibreOffice uses), on the same labelled sample, in one invocation.
#
#   bench/langid_textcat.sh [--max N] [FILE.jsonl]
#
# FILE defaults to data/langid/sample.jsonl (scripts/langid_sample.sh builds it).  textcat gets
# its stock fingerprints (/usr/share/libexttextcat/fpdb.conf, 160 languages) and each record's
# text; its first guess is the answer ("zh-CN" counts as "zh"; "UNKNOWN" and "SHORT" as "und").
# Prints, for both, accuracy per language, on records of >= 200 characters, and the one-thread
# throughput over the records (MB = 10^6 bytes).  --max N: textcat on the first N records of
# each language only (it is slow; default 300).  Nothing here asserts: it measures and prints.
set -euo pipefail
cd "$(dirname "$0")/.."
max=300 file=data/langid/sample.jsonl
while [[ $# -gt 0 ]]; do
    case $1 in
        --max) max=$2; shift 2 ;;
        -*) echo "usage: bench/langid_textcat.sh [--max N] [FILE.jsonl]" >&2; exit 2 ;;
        *) file=$1; shift ;;
    esac
done
die() { echo "langid_textcat: $*" >&2; exit 1; }
[[ -s $file ]] || die "$file not found (build it with scripts/langid_sample.sh)"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need_pkgs libexttextcat-dev libexttextcat-data
make -s -j"$(nproc)" bench >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The same records for both: the first N of each language, as JSONL.
perl -MJSON::PP -ne 'my $r = decode_json($_); print if ++$n{$r->{lang}} <= '"$max" "$file" >"$tmp/sub.jsonl"
perl -MJSON::PP -ne 'my $r = decode_json($_); my $t = $r->{text}; utf8::encode($t); $t =~ s/[\t\n]/ /g;
  print "$r->{lang}\t$t\n"' "$tmp/sub.jsonl" >"$tmp/sub.tsv"

cat >"$tmp/textcat.c" <<'C'
// Reads "lang<TAB>text" lines; prints "label<TAB>guess<TAB>chars" per line and the seconds spent
// in textcat_Classify on stderr.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <textcat.h>
int main(int argc, char **argv) {
    void *h = special_textcat_Init(argv[1], argv[2]);
    if (!h) { fprintf(stderr, "textcat_Init failed\n"); return 1; }
    char *line = NULL; size_t cap = 0; ssize_t n; double spent = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *tab = strchr(line, '\t'); if (!tab) continue;
        *tab = 0; const char *text = tab + 1; size_t len = strlen(text), chars = 0;
        for (size_t i = 0; i < len; i++) chars += ((unsigned char)text[i] & 0xC0) != 0x80;
        struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
        const char *g = textcat_Classify(h, text, len);
        clock_gettime(CLOCK_MONOTONIC, &b);
        spent += (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
        char guess[16] = "und";
        if (g && g[0] == '[') { size_t k = strcspn(g + 1, "-]"); if (k < sizeof guess) memcpy(guess, g + 1, k), guess[k] = 0; }
        printf("%s\t%s\t%zu\n", line, guess, chars);
    }
    fprintf(stderr, "%.6f\n", spent);
    textcat_Done(h); free(line); return 0;
}
C
cc -O2 -o "$tmp/textcat" "$tmp/textcat.c" $(pkg-config --cflags --libs libexttextcat) || die "building the textcat driver failed"
"$tmp/textcat" /usr/share/libexttextcat/fpdb.conf /usr/share/libexttextcat/ <"$tmp/sub.tsv" >"$tmp/textcat.out" 2>"$tmp/textcat.time"
bytes=$(cut -f2- "$tmp/sub.tsv" | wc -c)
echo "== libexttextcat $(pkg-config --modversion libexttextcat), first $max records per language"
awk -F'\t' -v secs="$(tail -n 1 "$tmp/textcat.time")" -v bytes="$bytes" '
    { n[$1]++; ok[$1] += ($1 == $2); if ($3 >= 200) { nl[$1]++; okl[$1] += ($1 == $2) }
      N++; OK += ($1 == $2); if ($3 >= 200) { NL++; OKL += ($1 == $2) } }
    END { printf "  %-9s %6s  %6s  %6s  %6s\n", "language", "n", "acc", "n>=200", "acc"
          for (l in n) printf "  %-9s %6d  %6.3f  %6d  %6s\n", l, n[l], ok[l] / n[l], nl[l], nl[l] ? sprintf("%.3f", okl[l] / nl[l]) : "-" | "sort"
          close("sort")
          printf "  %-9s %6d  %6.3f  %6d  %6.3f\n", "all", N, OK / N, NL, NL ? OKL / NL : 0
          printf "throughput: %.3f MB/s (one thread)\n", bytes / secs / 1e6 }' "$tmp/textcat.out"
echo
echo "== manabi li_identify on the same records"
build/bench_langid --min-en 0 --min-ja 0 "$tmp/sub.jsonl" | sed -n '/^  language/,/^  (n>=min/p; /^throughput, records/p'
