#!/usr/bin/env bash
# Preference pairs from fine-tuning data, for DPO when no person has compared answers yet.
#
#   scripts/make_prefs.sh [--sft DIR] [--out DIR] [--per-task N]
#
# For each conversation of DIR/train.jsonl and DIR/heldout.jsonl (default data/sft, from
# scripts/fetch_sft.sh): prompt = its question, chosen = its reference answer, rejected = the
# answer of another question of the same task (a fixed, seeded choice; never one equal to the
# chosen answer or among its "answers").  Writes OUT/train.jsonl and OUT/heldout.jsonl (default
# data/prefs) as TRL reads them: {"prompt": ..., "chosen": ..., "rejected": ..., "task": ...}.
# --per-task N keeps at most N pairs of each task in each file (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
sft=data/sft out=data/prefs per_task=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --sft) sft=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --per-task) per_task=$2; shift 2 ;;
        *) sed -n '2,11p' "$0" >&2; exit 2 ;;
    esac
done
perl -MJSON::PP -e 1 2>/dev/null || need_pkgs perl
mkdir -p "$out"
for part in train heldout; do
    [[ -f $sft/$part.jsonl ]] || { echo "make_prefs: $sft/$part.jsonl is missing (run scripts/fetch_sft.sh)" >&2; exit 1; }
    perl -MJSON::PP -e '
        my ($per_task) = @ARGV;
        my $json = JSON::PP->new->utf8->canonical;
        my (%by_task, @rows);
        while (my $line = <STDIN>) {
            next unless $line =~ /\S/;
            my $o = $json->decode($line);
            my @m = @{$o->{messages} // []};
            next unless @m >= 2 && $m[-1]{role} eq "assistant";
            my %ok = map { $_ => 1 } ($m[-1]{content}, @{$o->{answers} // []});
            my $task = $o->{task} // "";
            push @rows, {q => $m[-2]{content}, a => $m[-1]{content}, ok => \%ok, task => $task};
            push @{$by_task{$task}}, $#rows;
        }
        my $seed = 12345;  # a fixed linear congruential sequence: the same pairs every run
        my %kept;
        for my $i (0 .. $#rows) {
            my $r = $rows[$i];
            next if $per_task && ($kept{$r->{task}} // 0) >= $per_task;
            my $same = $by_task{$r->{task}};
            next unless @$same > 1;
            my $rej;
            for my $try (1 .. 20) {
                $seed = ($seed * 1103515245 + 12345) % 2147483648;
                my $c = $rows[$same->[$seed % @$same]];
                if (!$r->{ok}{$c->{a}}) { $rej = $c->{a}; last }
            }
            next unless defined $rej;
            $kept{$r->{task}}++;
            print $json->encode({prompt => $r->{q}, chosen => $r->{a}, rejected => $rej, task => $r->{task}}), "\n";
        }
    ' "$per_task" <"$sft/$part.jsonl" >"$out/$part.jsonl.tmp"
    mv "$out/$part.jsonl.tmp" "$out/$part.jsonl"
    echo "$out/$part.jsonl: $(wc -l <"$out/$part.jsonl") pairs"
done
