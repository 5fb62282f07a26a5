#!/usr/bin/env bash
# `manabi data pipeline|clean|dedup|finish|report` from the command line: a run over JSONL and
# text inputs prints the report and writes clean JSONL; the sharded stages give the same
# documents and counts; bad flags and inputs fail with the right exit status (2: usage,
# 1: runtime) and a message naming the flag or file; the clean JSONL makes token shards.
# Breaks when: the table or report.json is missing or wrong, sharded and single runs differ,
# an error is swallowed or blames the wrong thing, or `data shards` cannot read the output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"  # $MANABI, $WORK (removed on exit), fail, make_corpus, expect_fail
cd "$WORK"

# gen_jsonl FILE DOCS SEED: English documents as JSONL {"text", "id"}: 7 to 10 sentences of 8
# to 14 words over a word list with the common stop words, one sentence a line; they pass the
# default quality rules.
gen_jsonl() {
    awk -v docs="$2" -v seed="$3" '
    function sentence(   len, s, k) {
        len = 8 + int(rand() * 7)
        s = ""
        for (k = 0; k < len; k++) s = s (k ? " " : "") w[1 + int(rand() * n)]
        return toupper(substr(s, 1, 1)) substr(s, 2) "."
    }
    BEGIN {
        srand(seed)
        n = split("the and to of that with have be a in it for on was as at by from this they we you his her " \
                  "river garden morning village teacher window kitchen market winter summer letter station " \
                  "walked carried watched opened painted followed counted answered gathered remembered " \
                  "quiet bright heavy narrow gentle careful yellow distant ancient simple " \
                  "slowly often never always nearly almost again later early together", w, " ")
        for (d = 0; d < docs; d++) {
            m = 7 + int(rand() * 4)
            t = ""
            for (i = 0; i < m; i++) t = t (i ? "\\n" : "") sentence()
            printf "{\"text\": \"%s\", \"id\": \"s%d-%d\"}\n", t, seed, d
        }
    }' >"$1"
}

# expect_exit RC NAME WANT CMD...: as expect_fail, and the exit status must be RC.
expect_exit() {
    local want=$1 rc=0
    shift
    "${@:3}" >/dev/null 2>&1 || rc=$?
    [[ $rc -eq $want ]] || fail "$1: exit $rc, expected $want"
    expect_fail "$@"
}

mkdir in
gen_jsonl in/a.jsonl 12 1
head -n 1 in/a.jsonl >>in/a.jsonl                     # an exact duplicate
printf '{"text": "no closing quote}\n' >>in/a.jsonl   # a malformed line (line 14)
gen_jsonl in/b.jsonl 8 2
sed -n 4p in/a.jsonl >>in/b.jsonl                     # a duplicate across files
make_corpus in/c.txt 10 3                             # short documents: < 50 words each

# ---- the whole pipeline on one machine ----
"$MANABI" data pipeline --out D --quiet in >pipeline.log 2>&1 || { cat pipeline.log; fail "data pipeline failed"; }
for want in "exact_dedup" "exact_duplicate" "malformed_json" "in/a.jsonl:14" "gopher_word_count" "lang.en" \
    "report in D/report.json"; do
    grep -qF -- "$want" pipeline.log || { cat pipeline.log; fail "the pipeline's report lacks '$want'"; }
done
[[ -f D/report.json && -f D/clean/part.00000-of-00001.jsonl ]] || fail "no report.json or clean JSONL: $(ls -R D)"
kept=$(wc -l <D/clean/part.00000-of-00001.jsonl)
[[ $kept -eq 20 ]] || fail "$kept clean documents, expected the 20 distinct ones"
grep -q '"exact_duplicate"' D/report.json || fail "report.json has no exact_duplicate drop"
# Every clean line is {"text", "source", "lang"}, in input order.
head -n 1 D/clean/part.00000-of-00001.jsonl | grep -q '^{"text":".*","source":"in/a.jsonl","lang":"en"}$' ||
    fail "unexpected clean line: $(head -c 200 D/clean/part.00000-of-00001.jsonl)"
tail -n 1 D/clean/part.00000-of-00001.jsonl | grep -q '"source":"in/b.jsonl"' || fail "b.jsonl's documents are not last"
[[ ! -e D/dropped ]] || fail "dropped/ written without --explain"

# ---- report ----
"$MANABI" data report D >report.txt 2>&1 || { cat report.txt; fail "data report failed"; }
grep -q "exact_duplicate" report.txt || fail "data report prints no drop reasons"
"$MANABI" data report --json D >report.json 2>&1 || fail "data report --json failed"
grep -q '"stages"' report.json && grep -q '"counters"' report.json || fail "data report --json is not the report"
cmp -s report.json D/report.json || fail "data report --json differs from D/report.json"

# ---- the same run in two shards ----
for i in 0 1; do
    "$MANABI" data clean --out S --shard $i/2 --quiet in/a.jsonl in/b.jsonl in/c.txt >clean$i.log 2>&1 ||
        { cat clean$i.log; fail "data clean --shard $i/2 failed"; }
done
"$MANABI" data dedup --out S --quiet >dedup.log 2>&1 || { cat dedup.log; fail "data dedup failed"; }
for i in 1 0; do
    "$MANABI" data finish --out S --shard $i/2 --quiet >finish$i.log 2>&1 || { cat finish$i.log; fail "data finish --shard $i/2 failed"; }
done
"$MANABI" data report S >report_s.txt 2>&1 || fail "data report S failed"
[[ -f S/clean/part.00000-of-00002.jsonl && -f S/clean/part.00001-of-00002.jsonl ]] || fail "no clean parts: $(ls S/clean)"
diff <(sort D/clean/*.jsonl) <(sort S/clean/*.jsonl) >/dev/null || fail "the sharded run kept other documents"
counts() { grep -o '"docs_[a-z]*":[0-9]*' "$1"; }
diff <(counts D/report.json) <(counts S/report.json) >/dev/null || fail "the sharded run's counts differ"

# ---- flags reach the rules ----
"$MANABI" data pipeline --out ALL --quiet --disable all in >all.log 2>&1 || { cat all.log; fail "--disable all failed"; }
kept_all=$(wc -l <ALL/clean/part.00000-of-00001.jsonl)
[[ $kept_all -eq 30 ]] || fail "--disable all kept $kept_all documents, expected 30 (c.txt's 10 too)"
"$MANABI" data pipeline --out X --quiet --explain in >explain.log 2>&1 || { cat explain.log; fail "--explain failed"; }
# 2 exact duplicates and c.txt's 10 short documents; the malformed line is not a document.
[[ $(wc -l <X/dropped/part.00000-of-00001.jsonl) -eq 12 ]] || fail "dropped/ has $(wc -l <X/dropped/part.00000-of-00001.jsonl) lines"

# ---- errors: usage (2) and runtime (1), each naming the culprit ----
expect_exit 2 "--shard i >= n" "--shard 2/2" "$MANABI" data clean --out E --shard 2/2 in
expect_exit 2 "--shard not a fraction" "--shard x" "$MANABI" data clean --out E --shard x in
expect_exit 2 "--shard on the whole pipeline" "--shard" "$MANABI" data pipeline --out E --shard 0/2 in
expect_exit 2 "--set unknown threshold" "nosuch" "$MANABI" data pipeline --out E --set nosuch=1 in
expect_exit 2 "--set negative count" "gopher_min_words" "$MANABI" data pipeline --out E --set gopher_min_words=-1 in
expect_exit 2 "--set without =" "--set gopher_min_words" "$MANABI" data pipeline --out E --set gopher_min_words in
expect_exit 2 "--disable unknown rule" "nosuch" "$MANABI" data pipeline --out E --disable nosuch in
expect_exit 2 "--format unknown" "--format" "$MANABI" data clean --out E --format xml in
expect_exit 2 "missing --out" "--out" "$MANABI" data pipeline in
expect_exit 2 "no inputs" "input files" "$MANABI" data pipeline --out E
expect_exit 2 "dedup given inputs" "takes no input files" "$MANABI" data dedup --out S in/a.jsonl
expect_exit 2 "unknown flag" "--bogus" "$MANABI" data clean --out E --bogus in
expect_exit 1 "--name with a space" "--name 'a b'" "$MANABI" data clean --out E --name "a b" in
expect_exit 1 "a missing input" "missing.jsonl" "$MANABI" data pipeline --out E in/a.jsonl missing.jsonl
expect_exit 1 "--strict on a malformed line" "in/a.jsonl:14" "$MANABI" data pipeline --out E --strict --quiet in
expect_exit 1 "dedup before any clean" "manabi data clean" "$MANABI" data dedup --out NEVER
expect_exit 1 "finish before dedup" "manabi data dedup" "$MANABI" data finish --out NEVER
expect_exit 1 "dedup with a shard missing" "part.00001-of-00002|--shard 1/2" \
    bash -c "'$MANABI' data clean --out G --shard 0/2 --quiet in >/dev/null 2>&1 && '$MANABI' data dedup --out G"
expect_exit 1 "report of nothing" "NEVER" "$MANABI" data report NEVER
expect_exit 2 "unknown data subcommand" "usage" "$MANABI" data frobnicate
[[ ! -e E/clean ]] || fail "a failed run left E/clean: $(ls -R E)"
if [[ -d E/work ]]; then
    left=$(find E/work -type f)
    [[ -z $left ]] || fail "failed runs left files in E/work: $left"
fi

# ---- clean JSONL -> token shards ----
"$MANABI" data shards --tokenizer byte --out T D/clean/*.jsonl >shards.log 2>&1 || { cat shards.log; fail "data shards on the clean JSONL failed"; }
ls T/train_*.bin >/dev/null 2>&1 || fail "no training shards from the clean JSONL"
docs=$(awk '$2 == "documents" || $3 == "documents" { for (i = 1; i < NF; i++) if ($(i + 1) == "documents") s += $i } END { print s }' shards.log)
[[ $docs -eq 20 ]] || { cat shards.log; fail "data shards read $docs documents from the clean JSONL, expected 20"; }
echo "ok: data pipeline, stages, report, errors and shards"
