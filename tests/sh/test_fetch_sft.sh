#!/usr/bin/env bash
# scripts/fetch_sft.sh on tiny hand-written inputs (EDICT in EUC-JP, a WordNet directory with
# real byte offsets, man pages plain, gzip'ed and mdoc): the exact lines of every task, the
# rules that leave entries out, the split (disjoint, stable, both directions of an EDICT entry
# together), and every line loading strictly with sft_load.  Needs no package.
source "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TEST_MANABI="$(dirname "$MANABI")/test_manabi"
[[ -x $TEST_MANABI ]] || fail "no $TEST_MANABI (build it with make)"
export LC_ALL=C.UTF-8

# ---- EDICT: one entry per rule -------------------------------------------------------------
iconv -f UTF-8 -t EUC-JP >"$WORK/edict" <<'EOF' || fail "iconv to EUC-JP failed"
　？？？ /EDICT, EDICT_SUB(P), EDICT2 Japanese-English Electronic Dictionary Files/Created: 2021-02-03/
犬 [いぬ] /(n) dog/(P)/
猫 [ねこ] /(n) {zool} cat/(P)/
上手 [じょうず] /(adj-na,n) skillful/(P)/
上手 [うわて] /(n) upper part/(P)/
林檎 [りんご] /(n) apple/
世界 [せかい] /(n) (1) the world/(n) (2) sphere/(P)/
然し [しかし] /(conj) (uk) however/(P)/
テレビ /(n) (abbr) television/TV/(P)/
一期一会 [いちごいちえ] /(n,yoji) once-in-a-lifetime encounter that should be cherished/(P)/
臨場感 [りんじょうかん] /(n) (sense of) presence/(P)/
お早う [おはよう] /(int) (uk) good morning/(P)/
お早うございます [おはようございます] /(int) (uk) good morning/(P)/
リン /(n) (uk) phosphorus (P)/
EOF

# ---- WordNet: data files whose offsets are the byte offsets of their lines ------------------
wn=$WORK/wordnet
mkdir -p "$wn"
# synset POS LEMMA GLOSS: appends a synset to data.POS and prints its offset.
synset() {
  local f=$wn/data.$1 off
  off=$(stat -c %s "$f")
  printf '%08d 05 %s 01 %s 0 000 | %s  \n' "$off" "${1:0:1}" "$2" "$3" >>"$f"
  printf '%08d\n' "$off"
}
for p in noun verb adj adv; do printf '  1 This software and database is being provided\n' >"$wn/data.$p"; done
dog_n=$(synset noun dog 'a domesticated carnivore; barks; "the dog barked all night"')
dog_n2=$(synset noun dog 'informal term for a man; "you lucky dog"')
dog_v=$(synset verb dog 'go after with the intent to catch; "the police dogged the suspect"')
run_v=$(synset verb run "move fast by using one's feet")
big_a=$(synset adj big 'above average in size or number or quantity')
ice_n=$(synset noun ice_cream 'frozen dessert')
for p in noun verb adj adv; do printf '  1 This software and database is being provided\n' >"$wn/index.$p"; done
echo "dog n 2 1 @ 2 1 $dog_n $dog_n2  " >>"$wn/index.noun"
echo "ice_cream n 1 1 @ 1 1 $ice_n  " >>"$wn/index.noun"
echo "dog v 1 1 @ 1 1 $dog_v  " >>"$wn/index.verb"
echo "run v 1 1 @ 1 1 $run_v  " >>"$wn/index.verb"
echo "big a 1 1 & 1 1 $big_a  " >>"$wn/index.adj"
cat >"$wn/cntlist.rev" <<'EOF'
big%3:00:01:: 1 10
dog%1:05:00:: 1 42
dog%1:18:01:: 2 3
dog%2:38:00:: 1 2
ice_cream%1:13:00:: 1 50
run%2:38:00:: 1 30
EOF

# ---- man pages -----------------------------------------------------------------------------
man=$WORK/man
mkdir -p "$man/man1" "$man/man3" "$man/man5" "$man/man8"
printf '.TH LS 1\n.\\" a comment\n.SH 名前\nls \\- ディレクトリの内容を一覧表示する\n.SH 書式\n.B ls\n' |
  gzip >"$man/man1/ls.1.gz"
printf '.TH BASH 1\n.SH NAME\nbash \\- GNU Bourne\\-Again SHell\n' | gzip >"$man/man1/bash.1.gz"
printf '.so man1/ls.1\n' | gzip >"$man/man1/dir.1.gz"
ln -s ls.1.gz "$man/man1/list.1.gz"
printf '.TH PRINTF 3\n.SH "名前"\n.BR printf ", " fprintf\n\\- 書式付きで\\fB出力\\fP する\n.SH 説明\n' \
  >"$man/man3/printf.3"
printf '.TH PASSWD 5\n.SH 名前\npasswd \\(em パスワードファイル\n' | gzip >"$man/man5/passwd.5.gz"
printf '.Dd 1\n.Dt PING 8\n.Sh 名前\n.Nm ping\n.Nd\n.Tn ICMP ECHO_REQUEST\nパケットを送る\n.Sh 書式\n' |
  gzip >"$man/man8/ping.8.gz"
printf '.TH IPT 8\n.SH 名前\nipt\\-restore \\(em 復元する\n.P\nip6t\\-restore \\(em IPv6 を復元する\n' |
  gzip >"$man/man8/ipt-restore.8.gz"

out=$WORK/out
run_fetch() {
  bash "$REPO/scripts/fetch_sft.sh" --out "$out" --edict "$WORK/edict" --wordnet "$wn" --man "$man" --words 2 "$@" \
    >"$WORK/fetch.log" 2>&1 || { cat "$WORK/fetch.log"; fail "fetch_sft.sh failed"; }
}
run_fetch --heldout 0
cat "$WORK/fetch.log"
[[ -s $out/train.jsonl && -f $out/heldout.jsonl && ! -s $out/heldout.jsonl ]] || fail "--heldout 0 should hold out nothing"

# line TASK Q A [ANSWERS-JSON]: the JSON line fetch_sft.sh writes.
line() {
  local s="{\"messages\": [{\"role\": \"user\", \"content\": \"$2\"}, {\"role\": \"assistant\", \"content\": \"$3\"}], \"task\": \"$1\""
  [[ $# -ge 4 ]] && s+=", \"answers\": $4"
  echo "$s}"
}
{
  line edict_ja_en '「犬」を英語で言うと？' dog '["dog"]'
  line edict_en_ja 'How do you say \"dog\" in Japanese?' 犬 '["犬", "いぬ"]'
  line edict_ja_en '「猫」を英語で言うと？' cat '["cat"]'
  line edict_en_ja 'How do you say \"cat\" in Japanese?' 猫 '["猫", "ねこ"]'
  line edict_en_ja 'How do you say \"skillful\" in Japanese?' 上手 '["上手", "じょうず"]'
  line edict_en_ja 'How do you say \"upper part\" in Japanese?' 上手 '["上手", "うわて"]'
  line edict_ja_en '「しかし」を英語で言うと？' however '["however"]'
  line edict_en_ja 'How do you say \"however\" in Japanese?' しかし '["しかし", "然し"]'
  line edict_ja_en '「テレビ」を英語で言うと？' television '["television", "TV"]'
  line edict_en_ja 'How do you say \"television\" in Japanese?' テレビ '["テレビ"]'
  line edict_ja_en '「おはよう」を英語で言うと？' 'good morning' '["good morning"]'
  line edict_ja_en '「おはようございます」を英語で言うと？' 'good morning' '["good morning"]'
  line wordnet 'What does \"dog\" mean?' 'a domesticated carnivore; barks'
  line wordnet 'What does \"run\" mean?' "move fast by using one's feet"
  line man_ja '「ls」コマンドは何をしますか？' 'ディレクトリの内容を一覧表示する'
  line man_ja '「printf」関数は何をしますか？' '書式付きで出力 する'
  line man_ja '「fprintf」関数は何をしますか？' '書式付きで出力 する'
  line man_ja '「passwd」とは何ですか？' 'パスワードファイル'
  line man_ja '「ping」コマンドは何をしますか？' 'ICMP ECHO_REQUEST パケットを送る'
  line man_ja '「ipt-restore」コマンドは何をしますか？' '復元する'
  line man_ja '「ip6t-restore」コマンドは何をしますか？' 'IPv6 を復元する'
} | sort >"$WORK/want.jsonl"
sort "$out/train.jsonl" >"$WORK/got.jsonl"
diff -u "$WORK/want.jsonl" "$WORK/got.jsonl" || fail "the lines differ from the expected ones (- expected, + written)"
echo "ok: every line as expected; left out: 上手 (two answers), 林檎 (not common), 世界 (two senses), long and"
echo "    parenthesised glosses, \"good morning\" (two answers), big (--words 2), ice_cream, English and .so pages"
grep -E '^edict_en_ja +[0-9]+ +[0-9]+ +[0-9]+ +2 +0$' "$WORK/fetch.log" >/dev/null || fail "the conflicts are not counted"

# The split: disjoint, complete, the same on every run, an EDICT entry's two directions together.
run_fetch --heldout 50
cat "$WORK/fetch.log"
cat "$out/train.jsonl" "$out/heldout.jsonl" | sort | diff -q - "$WORK/want.jsonl" >/dev/null ||
  fail "train + heldout is not the whole set"
[[ -s $out/heldout.jsonl && -s $out/train.jsonl ]] || fail "a 50% split left a side empty"
question() { sed 's/^{"messages": \[{"role": "user", "content": "\(\([^"\\]\|\\.\)*\)"}.*/\1/' "$1" | sort; }
[[ -z $(comm -12 <(question "$out/train.jsonl") <(question "$out/heldout.jsonl")) ]] || fail "a question is in both splits"
for w in 犬 猫 テレビ しかし; do
  n=$(grep -c "$w" "$out/heldout.jsonl" || true)
  [[ $n -eq 0 || $n -eq 2 ]] || fail "the two directions of $w are split apart"
done
cp "$out/heldout.jsonl" "$WORK/heldout.first"
cp -a "$man" "$WORK/man-elsewhere"   # the split must not depend on where the pages are
man=$WORK/man-elsewhere
run_fetch --heldout 50
cmp -s "$out/heldout.jsonl" "$WORK/heldout.first" || fail "the split changed between two runs"
echo "ok: split disjoint, complete and stable ($(wc -l <"$out/train.jsonl") train, $(wc -l <"$out/heldout.jsonl") held out)"

# Every line loads with sft_load, strictly (no skip, no trim, nothing over max_len).
MANABI_SFT_FILES="$out/train.jsonl:$out/heldout.jsonl" "$TEST_MANABI" sftdata_loads_files_named_in_env >"$WORK/load.log" 2>&1 ||
  { cat "$WORK/load.log"; fail "sft_load refused the output"; }
grep -q '^1 passed, 0 failed$' "$WORK/load.log" || { cat "$WORK/load.log"; fail "the load check did not run"; }
grep 'examples' "$WORK/load.log"

# Bad inputs are refused with the path.
expect_fail "missing EDICT" "no EDICT file at $WORK/nope" \
  bash "$REPO/scripts/fetch_sft.sh" --out "$out" --edict "$WORK/nope" --wordnet "$wn" --man "$man"
expect_fail "not WordNet" "no cntlist.rev in $WORK" \
  bash "$REPO/scripts/fetch_sft.sh" --out "$out" --edict "$WORK/edict" --wordnet "$WORK" --man "$man"
expect_fail "bad --heldout" "--heldout needs a percent" bash "$REPO/scripts/fetch_sft.sh" --heldout 80
echo "ok"
