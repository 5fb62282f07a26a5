#!/usr/bin/env bash
# fetch_sft.sh - build manabi's default fine-tuning task from Debian packages (EDICT, WordNet,
# the Japanese man pages) as conversations for `sft_load` (src/finetune/sftdata.h).  Needs root
# for apt-get unless every input is given.
#
# usage: scripts/fetch_sft.sh [--out DIR] [--heldout PCT] [--words N]
#                             [--edict FILE] [--wordnet DIR] [--man DIR]
#   --out DIR        output directory (default: <repo>/data/sft)
#   --heldout PCT    percent of the questions held out (default 5)
#   --words N        WordNet words to define (default 4000)
#   --edict FILE     EDICT in EUC-JP (default: /usr/share/edict/edict, package edict)
#   --wordnet DIR    WordNet's dictionary files (default: /usr/share/wordnet, package wordnet-base)
#   --man DIR        Japanese man pages, DIR/man<section>/<page>[.gz] (default: /usr/share/man/ja,
#                    package manpages-ja)
# Output: DIR/train.jsonl and DIR/heldout.jsonl, one conversation a line:
#   {"messages": [{"role": "user", "content": Q}, {"role": "assistant", "content": A}],
#    "task": TASK[, "answers": [A, ...]]}
# "answers" (EDICT tasks) lists every answer an exact-match evaluation should accept.  Tasks:
#   edict_ja_en   「犬」を英語で言うと？ -> dog
#   edict_en_ja   How do you say "dog" in Japanese? -> 犬
#   wordnet       What does "dog" mean? -> its most frequent sense's definition
#   man_ja        「ls」コマンドは何をしますか？ -> the page's NAME line (関数, システムコール, とは何ですか by section)
# Every run rebuilds both files from the inputs (a few seconds) and replaces them atomically.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$REPO/data/sft"; HELDOUT=5; WORDS=4000; EDICT=""; WORDNET=""; MANDIR=""
die() { echo "fetch_sft: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --heldout) [[ ${2:-} =~ ^[0-9]+$ && ${2:-} -le 50 ]] || die "--heldout needs a percent from 0 to 50"; HELDOUT=$2; shift 2 ;;
    --words) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--words needs a number"; WORDS=$2; shift 2 ;;
    --edict) [ $# -ge 2 ] || die "--edict needs a file"; EDICT=$2; shift 2 ;;
    --wordnet) [ $# -ge 2 ] || die "--wordnet needs a directory"; WORDNET=$2; shift 2 ;;
    --man) [ $# -ge 2 ] || die "--man needs a directory"; MANDIR=$2; shift 2 ;;
    -h|--help) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done
export LC_ALL=C.UTF-8 LANG=C.UTF-8

# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"
[ -n "$EDICT" ] || { need_pkgs edict; EDICT=/usr/share/edict/edict; }
[ -n "$WORDNET" ] || { need_pkgs wordnet-base; WORDNET=/usr/share/wordnet; }
[ -n "$MANDIR" ] || { need_pkgs manpages-ja; MANDIR=/usr/share/man/ja; }
perl -MIO::Uncompress::Gunzip -e 1 2>/dev/null || need_pkgs perl   # gunzip inside perl: one process for all pages
[ -f "$EDICT" ] || die "no EDICT file at $EDICT"
for f in cntlist.rev index.noun index.verb index.adj index.adv data.noun data.verb data.adj data.adv; do
  [ -f "$WORDNET/$f" ] || die "no $f in $WORDNET (is it WordNet's dict directory?)"
done
[ -d "$MANDIR" ] || die "no man page directory $MANDIR"
mkdir -p "$OUT" || die "cannot create $OUT"
TMP=$(mktemp -d)
PART_T=$(mktemp "$OUT/.train.jsonl.XXXXXX"); PART_H=$(mktemp "$OUT/.heldout.jsonl.XXXXXX")  # renamed into place
trap 'rm -rf "$TMP"; rm -f "$PART_T" "$PART_H"' EXIT

# Each source writes TSV rows: task, group, question, answer, accepted answers (joined by \x1f,
# may be empty).  No field holds a tab or a newline.  The group decides the split: questions
# about one EDICT entry (both directions), one WordNet word or one man page stay together.

# EDICT: "見出し [よみ] /(n) gloss/gloss/(2) gloss/(P)/".  Common entries only (a "(P)" field),
# one sense only (a second sense makes "the" translation ambiguous), whose first gloss, once
# EDICT's leading tags are removed ("(n,vs)", "(1)", "{comp}", "(uk)"), is 1-3 words of letters
# (with ' and -): nothing in parentheses, no "etc.", short enough for an exact match.  The
# Japanese side is the form people write: the headword, or the reading when the entry has no
# kanji headword or is marked (uk), "usually written in kana".
read -r -d '' EDICT_PL <<'EOF' || true
sub clean { my $g = shift; my $uk = 0;
  while ($g =~ s/^\s*[({]([A-Za-z0-9:-]{1,8}(?:,[A-Za-z0-9:-]{1,8})*)[)}]\s*//) { $uk = 1 if $1 eq "uk" }
  $g =~ s/\s+$//; return ($g, $uk) }
sub short { my $g = shift; return $g =~ /^[A-Za-z][A-Za-z' -]*[A-Za-z]$/ && $g !~ /  / && (split / /, $g) <= 3 }
while (<STDIN>) {
  chomp; next unless m{/\(P\)/$};
  my ($head, $rest) = m{^(\S+) (.*)$} or next;
  my $read = $rest =~ s{^\[([^\]]+)\] }{} ? $1 : undef;
  my @f = split m{/}, $rest; shift @f; pop @f;                  # before the first "/"; the "(P)"
  next if grep { /^\s*(?:\([^)]*\)\s*)*\(2\)/ } @f;            # a second sense
  my ($first, $uk) = clean($f[0]);
  next unless short($first);
  my @acc = ($first);
  for my $g (@f[1 .. $#f]) { my ($c) = clean($g); push @acc, $c if short($c) && !grep { $_ eq $c } @acc }
  my $ja = ($uk || !defined $read) ? ($read // $head) : $head;
  my @ja = grep { defined } ($ja, $head, $read); my %s; @ja = grep { !$s{$_}++ } @ja;
  my $grp = "edict:$ja";
  print join("\t", "edict_ja_en", $grp, "「$ja」を英語で言うと？", $first, join("\x1f", @acc)), "\n";
  print join("\t", "edict_en_ja", $grp, "How do you say \"$first\" in Japanese?", $ja, join("\x1f", @ja)), "\n";
}
EOF

# WordNet: the WORDS single words (two or more lowercase letters) most often tagged in the
# semantic concordance (cntlist.rev), each with the definition of its most tagged sense (the
# gloss in data.<pos> up to its example sentences, which are quoted after a ";").
read -r -d '' WORDNET_PL <<'EOF' || true
my ($dir, $want) = @ARGV;
my %pos = (1 => "noun", 2 => "verb", 3 => "adj", 4 => "adv", 5 => "adj");
my (%total, %best, %bestc);
open my $c, "<", "$dir/cntlist.rev" or die "$dir/cntlist.rev: $!";
while (<$c>) {
  my ($key, $sense, $n) = split;
  my ($lemma, $ss) = $key =~ /^([a-z]{2,})%(\d):/ or next;
  $total{$lemma} += $n;
  if (!defined $bestc{$lemma} || $n > $bestc{$lemma}) { $bestc{$lemma} = $n; $best{$lemma} = [$pos{$ss}, $sense] }
}
my @words = sort { $total{$b} <=> $total{$a} || $a cmp $b } keys %total;
my (%offsets, %data);
for my $p (qw(noun verb adj adv)) {
  open my $i, "<", "$dir/index.$p" or die "$dir/index.$p: $!";
  while (<$i>) { next if /^ /; my @f = split; next unless $total{$f[0]};
    my $np = $f[3]; my $ns = $f[2]; $offsets{"$p $f[0]"} = [@f[6 + $np .. 5 + $np + $ns]] }
  open $data{$p}, "<", "$dir/data.$p" or die "$dir/data.$p: $!";
}
my $n = 0;
for my $w (@words) {
  last if $n >= $want;
  my ($p, $sense) = @{$best{$w}};
  my $off = $offsets{"$p $w"} ? $offsets{"$p $w"}[$sense - 1] : undef;
  next unless defined $off;
  seek $data{$p}, $off, 0 or next; my $line = readline $data{$p}; next unless defined $line && $line =~ /^$off /;
  my ($gloss) = $line =~ /\| (.*?)\s*$/ or next;
  $gloss =~ s/;?\s*"[^"]*".*$//;                                  # example sentences
  $gloss =~ s/[\s;]+$//; $gloss =~ s/\s+/ /g;
  next unless $gloss =~ /[a-z]/ && $gloss !~ /\t/;
  print join("\t", "wordnet", "wordnet:$w", "What does \"$w\" mean?", $gloss, ""), "\n";
  $n++;
}
EOF

# Japanese man pages: the NAME section (.SH 名前, 名称 or NAME; or mdoc's .Nm/.Nd), "names \- 説明",
# with roff's escapes and font macros undone.  A page whose line keeps an unknown escape, or
# whose description has no kana or kanji (untranslated), is left out.
read -r -d '' MAN_PL <<'EOF' || true
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
my %ask = (1 => "コマンドは何をしますか？", 6 => "コマンドは何をしますか？", 8 => "コマンドは何をしますか？",
           2 => "システムコールは何をしますか？", 3 => "関数は何をしますか？");
my %ch = (em => "\x{e2}\x{80}\x{94}", en => "\x{e2}\x{80}\x{93}", aq => "'", dq => '"', lq => '"', rq => '"',
          oq => "'", cq => "'", co => "\x{c2}\x{a9}", mi => "-", hy => "-", rs => "\\");
sub roff { my $s = shift;
  $s =~ s/\\f(?:\(..|\[[^\]]*\]|.)//g; $s =~ s/\\\((..)/exists $ch{$1} ? $ch{$1} : "\\($1"/ge;
  $s =~ s/\\\[(\w+)\]/exists $ch{$1} ? $ch{$1} : "\\[$1]"/ge;
  $s =~ s/\\-/-/g; $s =~ s/\\[&|^c]//g; $s =~ s/\\ / /g; $s =~ s/\\e/\x01/g;
  return undef if $s =~ /\\/; $s =~ s/\x01/\\/g; return $s }
sub args { my $a = shift; my @a; push @a, defined $1 ? $1 : $2 while $a =~ /"([^"]*)"|(\S+)/g; return @a }
my @names;
while (my $path = <STDIN>) {
  chomp $path; my ($page, $sec) = $path =~ m{/(man([1-9])[^/]*/[^/]+?)(?:\.gz)?$} or next;   # man1/ls.1
  my $src;
  if ($path =~ /\.gz$/) { gunzip($path => \$src) or die "$path: $GunzipError" }
  else { open my $f, "<", $path or die "$path: $!"; local $/; $src = <$f> }
  next if $src =~ /^\.so\s/m && $src !~ /^\.(?:SH|Sh)\s/m;      # a page that only includes another
  # The NAME section as text lines; a paragraph request (.PP, .P, .LP, .br) starts a new line
  # (iptables-restore names two commands in two paragraphs).  mdoc: .Nm names, .Nd and the
  # lines after it describe.
  my @lines = split /\n/, $src; my ($in, @text, @nm, $nd) = (0, "");
  for (@lines) {
    next if /^[.'][ \t]*\\"/;                                    # comments
    if (/^\.S[Hh][ \t]+"?(.*?)"?[ \t]*$/) { last if $in; $in = $1 =~ /^(?:名前|名称|NAME)$/i ? 1 : 0; next }
    next unless $in;
    my $add;
    if (/^\.Nm(?:[ \t]+(.*))?$/) { push @nm, grep { $_ ne "," } args($1 // ""); next }
    elsif (/^\.Nd(?:[ \t]+(.*))?$/) { $nd = $1 // ""; next }
    elsif (/^\.(?:PP|P|LP|br)\b/) { push @text, ""; next }
    elsif (/^\.(?:B|I|SM|SB|Tn)[ \t]+(.*)$/) { $add = join(" ", args($1)) }
    elsif (/^\.(?:BR|RB|IR|RI|BI|IB)[ \t]+(.*)$/) { $add = join("", args($1)) }
    elsif (/^[.']/) { next }                                      # other requests: .nh, .ad ...
    else { $add = $_ }
    if (defined $nd) { $nd .= " $add" } else { $text[-1] .= " $add" }
  }
  @text = (join(", ", @nm) . " \\- $nd") if @nm && defined $nd;
  my $q = $ask{$sec} // "とは何ですか？";
  for my $line (@text) {
    $line = roff($line); next unless defined $line;
    $line =~ s/\s+/ /g; $line =~ s/^ | $//g;
    my ($list, $desc) = $line =~ /^(.*?) +(?:-+|\xe2\x80\x94) *(.*)$/ or next;
    next unless $desc =~ /\xe3[\x81-\x83][\x80-\xbf]|[\xe4-\xe9][\x80-\xbf]{2}/;   # kana or kanji
    for my $name (split /\s*,\s*/, $list) {
      next unless $name =~ m{^[A-Za-z0-9_./:+\[\]-]+$};
      print join("\t", "man_ja", "man:$page", "「$name」$q", $desc, ""), "\n";
    }
  }
}
EOF

# The split and the files: a question asked twice with different answers is dropped everywhere
# (it cannot be scored); one asked twice with the same answer is kept once.  Held out: the
# groups whose 32-bit FNV-1a hash is below PCT% (stable across runs and machines).
read -r -d '' FINISH_PL <<'EOF' || true
my ($pct, $train, $held) = @ARGV;
my (@rows, %ans, %seen, %count, @tasks, %dup, %conflict);
while (<STDIN>) {
  chomp; my @f = split /\t/, $_, -1; next unless @f == 5 && length $f[2] && length $f[3];
  push @tasks, $f[0] unless grep { $_ eq $f[0] } @tasks;
  $ans{$f[2]}{$f[3]} = 1; push @rows, \@f;
}
sub fnv { my $h = 0x811c9dc5; for my $b (unpack "C*", shift) { $h = (($h ^ $b) * 0x01000193) & 0xffffffff } $h }
sub js { my $s = shift; $s =~ s/(["\\])/\\$1/g; $s =~ s/\n/\\n/g; $s =~ s/([\x00-\x1f])/sprintf "\\u%04x", ord $1/ge; "\"$s\"" }
open my $t, ">", $train or die "$train: $!"; open my $h, ">", $held or die "$held: $!";
for my $r (@rows) {
  my ($task, $grp, $q, $a, $acc) = @$r;
  if (keys %{$ans{$q}} > 1) { $conflict{$task}++; next }
  if ($seen{$q}++) { $dup{$task}++; next }
  my $split = fnv($grp) % 100 < $pct ? "heldout" : "train";
  my $line = "{\"messages\": [{\"role\": \"user\", \"content\": " . js($q) . "}, {\"role\": \"assistant\", \"content\": "
           . js($a) . "}], \"task\": " . js($task);
  $line .= ", \"answers\": [" . join(", ", map { js($_) } split /\x1f/, $acc) . "]" if length $acc;
  print { $split eq "train" ? $t : $h } "$line}\n";
  $count{$task}{$split}++;
}
close $t or die "$train: $!"; close $h or die "$held: $!";
printf "%-12s %7s %7s %7s %9s %9s\n", "task", "train", "heldout", "total", "conflicts", "repeats";
my ($tt, $th) = (0, 0);
for my $k (@tasks) {
  my ($a, $b) = ($count{$k}{train} // 0, $count{$k}{heldout} // 0); $tt += $a; $th += $b;
  printf "%-12s %7d %7d %7d %9d %9d\n", $k, $a, $b, $a + $b, $conflict{$k} // 0, $dup{$k} // 0;
}
printf "%-12s %7d %7d %7d\n", "total", $tt, $th, $tt + $th;
EOF

t0=$SECONDS
iconv -f EUC-JP -t UTF-8 "$EDICT" >"$TMP/edict.txt" || die "$EDICT is not EUC-JP (iconv failed)"
perl -e "$EDICT_PL" <"$TMP/edict.txt" >"$TMP/edict.tsv" || die "converting EDICT failed"
perl -e "$WORDNET_PL" "$WORDNET" "$WORDS" >"$TMP/wordnet.tsv" || die "converting WordNet failed"
find "$MANDIR" -path "$MANDIR/man*" -type f | sort | perl -e "$MAN_PL" >"$TMP/man.tsv" || die "converting the man pages failed"
for s in edict wordnet man; do [ -s "$TMP/$s.tsv" ] || die "no examples from $s"; done
cat "$TMP/edict.tsv" "$TMP/wordnet.tsv" "$TMP/man.tsv" |
  perl -e "$FINISH_PL" "$HELDOUT" "$PART_T" "$PART_H" >"$TMP/stats.txt" || die "writing the split failed"
chmod 644 "$PART_T" "$PART_H"
mv -f "$PART_T" "$OUT/train.jsonl"
mv -f "$PART_H" "$OUT/heldout.jsonl"
cat "$TMP/stats.txt"
echo "($((SECONDS - t0)) s; $OUT/train.jsonl, $OUT/heldout.jsonl; $HELDOUT% held out)"
