#!/usr/bin/env bash
# langid_sample.sh - build the labelled language-identification sample from Debian's translated
# man pages (manpages-*, rendered with groff).  Needs root for apt-get the first time.
#
# usage: scripts/langid_sample.sh [--out FILE] [--force] [--pages N] [--records N]
#   --out FILE     output (default: <repo>/data/langid/sample.jsonl)
#   --force        rebuild even if FILE exists
#   --pages N      render at most N pages per language, evenly spaced in name order (default 150)
#   --records N    keep at most N records per language, evenly spaced (default 1200)
# Output: JSONL, one record per paragraph: {"lang": "de", "source": "de/man1/ls.1.gz", "text": ...}
#
# Labels are the man directory: man1..man8 = en, ja, zh_CN and zh_TW = zh, pt and pt_BR = pt, the
# others by name (de fr es it pl nl sv cs da ru uk ko ...; ko ships with base packages, not a
# manpages-* package).  A record is one paragraph of a page's body (the sections after NAME and
# SYNOPSIS), cut at a sentence or word end before 1000 characters, kept if it has >= 15
# characters and >= 60% of its non-space characters are letters (drops option lists, commands,
# SEE ALSO lists); a paragraph seen twice in one language (translator credits, licence text) is
# kept once.  Translations leave commands, option names and the odd untranslated paragraph in
# English, so a few labels are wrong: the sample measures, it is not a gold standard.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$REPO/data/langid/sample.jsonl"; FORCE=0; PAGES=150; RECORDS=1200
die() { echo "langid_sample: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a file"; OUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    --pages) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--pages needs a positive number"; PAGES=$2; shift 2 ;;
    --records) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--records needs a positive number"; RECORDS=$2; shift 2 ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done
if [ -s "$OUT" ] && [ "$FORCE" -eq 0 ]; then echo "langid_sample: $OUT exists (--force rebuilds)"; exit 0; fi
export LC_ALL=C.UTF-8 LANG=C.UTF-8
# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"
need_pkgs "${LANGID_PKGS[@]}"

TMP=$(mktemp -d); PARTIAL=""
trap 'rm -rf "$TMP"; [ -z "$PARTIAL" ] || rm -f "$PARTIAL"' EXIT
mkdir -p "$(dirname "$OUT")" || die "cannot create $(dirname "$OUT")"

cat >"$TMP/render.sh" <<'EOF'
#!/usr/bin/env bash
# render.sh OUTDIR PAGE.gz...: each real page (not a .so stub) as text, one line per paragraph
set -uo pipefail; out=$1; shift
for f in "$@"; do
  zcat "$f" 2>/dev/null | awk '!/^\.(so |\\")/ && NF { real = 1 } END { exit !real }' || continue
  # Huge line length: one output line per paragraph; tables at the usual 78 columns.
  zcat "$f" | sed -e 's/^\.TS/.ll 78n\n&/' -e 's/^\.TE.*/&\n.ll 6000n/' |
    groff -Kutf-8 -mja -man -t -Tutf8 -P-cbou -rLL=6000n 2>/dev/null \
      >"$out/$(printf '%s' "${f#/usr/share/man/}" | tr / '|').txt" || echo "render.sh: failed: $f" >&2
done
EOF

# dir label: the translated man directories and their labels.
dirs=()
for d in /usr/share/man/*/; do
  d=$(basename "$d")
  case "$d" in
    man*) ;;
    zh_CN|zh_TW) dirs+=("$d zh") ;;
    pt|pt_BR) dirs+=("$d pt") ;;
    *) [[ $d =~ ^[a-z][a-z]$ ]] && dirs+=("$d $d") ;;
  esac
done
[ ${#dirs[@]} -gt 0 ] || die "no translated man pages under /usr/share/man"

# Pages per label, evenly spaced over the sorted list.  English: the same spacing over the
# English originals of the translated pages chosen, so that both cover the same topics (and
# not, say, the thousands of pages of one cloud command-line tool that happen to be installed).
spaced() { sort | awk -v n="$PAGES" '{ p[NR] = $0 } END { k = NR < n ? NR : n; for (i = 0; i < k; i++) print p[int(i * NR / k) + 1] }'; }
declare -A lists
for entry in "${dirs[@]}"; do
  set -- $entry
  find "/usr/share/man/$1" -type f -name '*.gz' >>"$TMP/list.$2"
  lists[$2]=1
done
mkdir -p "$TMP/txt"
for lang in $(printf '%s\n' "${!lists[@]}" | sort); do spaced <"$TMP/list.$lang" >>"$TMP/pages"; done
# The English originals, to find untranslated paragraphs and to draw the English pages from.
sed -n 's|^/usr/share/man/[a-zA-Z_]*/\(man[0-9]/.*\)|/usr/share/man/\1|p' "$TMP/pages" | sort -u |
  while read -r f; do [ -f "$f" ] && echo "$f"; done >"$TMP/originals" || true
spaced <"$TMP/originals" >>"$TMP/pages"
echo "langid_sample: rendering $(sort -u "$TMP/pages" "$TMP/originals" | wc -l) pages"
sort -u "$TMP/pages" "$TMP/originals" | tr '\n' '\0' | xargs -0 -r -n 20 -P "$(nproc)" bash "$TMP/render.sh" "$TMP/txt"

PARTIAL=$(mktemp "$OUT.XXXXXX")
# One language after another; the file names say the directory, hence the label.
sed 's|^/usr/share/man/||; s|/|\||g; s|$|.txt|' "$TMP/pages" | sort -u |
  perl -CSD -MJSON::PP -e '
    my ($dir_txt, $records, $originals) = @ARGV; @ARGV = ();
    my %label = (zh_CN => "zh", zh_TW => "zh", pt_BR => "pt");
    $label{"man$_"} = "en" for 1 .. 9;
    my $json = JSON::PP->new->canonical;
    my $cjk = qr/[\p{Han}\p{Hiragana}\p{Katakana}\x{3000}-\x{303F}\x{FF01}-\x{FF60}]/;
    # The prose paragraphs of a rendered page: body sections after NAME and SYNOPSIS, one line
    # each, whitespace collapsed, without code-like or reference-list paragraphs.
    sub paragraphs { my $path = shift; my @out;
      open my $fh, "<:encoding(UTF-8)", $path or return ();
      my @lines = split /\n/, do { local $/; <$fh> }; close $fh;
      shift @lines; pop @lines while @lines && $lines[-1] !~ /\S/; pop @lines;  # header, footer
      my $section = 0;
      for my $l (@lines) {
        if ($l =~ /^\S/) { $section++; next }                  # a heading in column 0
        next if $section <= 2;                                 # NAME, SYNOPSIS
        $l =~ s/^\s+|\s+$//g; $l =~ s/\s+/ /g; $l =~ s/(?<=$cjk) (?=$cjk)//g;
        my $chars = () = $l =~ /\S/g; my $letters = () = $l =~ /\p{L}/g;
        next if $chars < 15 || $letters < 0.6 * $chars;
        next if $l =~ /^[\$#] | \\$/;                         # shell prompts, continued lines
        (my $rest = $l) =~ s/[\w.:+-]+\(\d\w*\)//g;            # man page references
        next if (() = $rest =~ /\S/g) < 0.5 * $chars;
        my @tok = split / /, $l;
        my $code = grep { /^-|[\/=_\$\{\}\[\]<>|]|::|\(\)/ } @tok;
        next if $code > 0.25 * @tok;
        push @out, $l;
      }
      return @out }
    sub cut { my $l = shift; my @p;                            # pieces of <= 1000 characters
      while (length $l) { my $piece = $l;
        if (length $l > 1000) { my $head = substr $l, 0, 1000;
          if ($head =~ /^(.{300,}[.!?\x{3002}\x{FF01}\x{FF1F}])\s*/s) { $piece = $1 }
          elsif ($head =~ /^(.{300,})\s/s) { $piece = $1 } else { $piece = $head } }
        $l = substr $l, length $piece; $l =~ s/^\s+//; $piece =~ s/\s+$//; push @p, $piece }
      return @p }
    # English vocabulary: words seen twice or more in the English originals.
    my (%vocab, %seen, %recs, %pages, %untranslated);
    open my $ol, "<", $originals or die "$originals: $!";
    while (my $f = <$ol>) { chomp $f; $f =~ s{^/usr/share/man/}{}; $f =~ s{/}{|}g;
      $vocab{lc $_}++ for map { /(\p{L}{2,})/g } paragraphs("$dir_txt/$f.txt") }
    close $ol;
    # Untranslated: >= 6 words of two letters or more, 90% of them English words.
    sub english { my @w = map { lc } $_[0] =~ /(\p{L}{2,})/g; return 0 if @w < 6;
      my $en = grep { ($vocab{$_} // 0) >= 2 } @w; return $en >= 0.9 * @w }
    while (my $name = <STDIN>) {
      chomp $name; (my $src = $name) =~ s{\|}{/}g; $src =~ s/\.txt$//;
      my ($dir) = split m{/}, $src; my $lang = $label{$dir} // $dir;
      my @par = paragraphs("$dir_txt/$name") or next;
      $pages{$lang}++;
      if ($lang ne "en") {                                     # drop untranslated paragraphs
        (my $orig = $name) =~ s/^[^|]+\|//; my %en = map { $_ => 1 } paragraphs("$dir_txt/$orig");
        my $n = @par; @par = grep { !$en{$_} && !english($_) } @par; $untranslated{$lang} += $n - @par }
      my @chunk;
      for my $p (@par, undef) {                                # paragraphs, and runs of them
        if (defined $p) { for my $piece (cut($p)) {
          push @{$recs{$lang}{paragraph}}, { lang => $lang, kind => "paragraph", source => $src, text => $piece }
            unless length $piece < 15 || $seen{$lang}{$piece}++ } }
        push @chunk, $p if defined $p;
        my $joined = join "\n", @chunk;
        if (@chunk > 1 && (!defined $p || length $joined >= 300)) {
          my ($piece) = cut($joined);
          push @{$recs{$lang}{chunk}}, { lang => $lang, kind => "chunk", source => $src, text => $piece }
            if length $piece >= 300 && !$seen{$lang}{$piece}++;
          @chunk = () }
        @chunk = () unless defined $p }
    }
    for my $lang (sort keys %recs) { my @kept;
      for my $kind ("paragraph", "chunk") {
        my @r = @{$recs{$lang}{$kind} // []}; my $cap = $kind eq "chunk" ? int($records / 2) : $records;
        my $k = @r < $cap ? @r : $cap; push @kept, scalar @r, $k;
        print $json->encode($r[int($_ * @r / $k)]), "\n" for 0 .. $k - 1 }
      printf STDERR "%-3s %4d pages, %4d untranslated paragraphs dropped, paragraphs %5d (kept %4d), chunks %5d (kept %4d)\n",
        $lang, $pages{$lang}, $untranslated{$lang} // 0, @kept }' "$TMP/txt" "$RECORDS" "$TMP/originals" >"$PARTIAL" 2>"$TMP/counts" ||
  { cat "$TMP/counts" >&2; die "extracting paragraphs failed"; }
cat "$TMP/counts"
[ -s "$PARTIAL" ] || die "no records extracted"
chmod 644 "$PARTIAL"; mv -f "$PARTIAL" "$OUT"; PARTIAL=""
echo "langid_sample: $(wc -l <"$OUT") records in $OUT ($((SECONDS))s)"
