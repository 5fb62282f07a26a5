# Helpers sourced by the command-line tests (tests/sh/test_*.sh; this file is not a test).
# Each test: `source "$(dirname "$0")/lib.sh"`; then $WORK is a scratch directory removed on
# exit and $MANABI the binary.
set -euo pipefail

MANABI=${MANABI:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/manabi}
[[ -x $MANABI ]] || { echo "FAIL: manabi binary not found at $MANABI (build it with make)"; exit 1; }
WORK=$(mktemp -d /tmp/manabi-sh-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# One thread for the commands without --threads (info, loss, sample): the models here are so
# small that a team of threads mostly waits at barriers, and on a loaded 2-core machine each
# barrier can cost a scheduler time slice (a 15-batch `manabi loss` took 7 s instead of 0.1 s).
# Tests that pass --threads still get that many.
export OMP_NUM_THREADS=1

# A tiny model: fast enough for tests, real enough to exercise every code path.
TINY=(--layers 1 --width 32 --heads 2 --seq-len 32 --batch 2)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# make_corpus FILE [DOCS [SEED]]: English-like text, documents separated by <|endoftext|> lines.
make_corpus() {
    local file=$1 docs=${2:-80} seed=${3:-1}
    awk -v docs="$docs" -v seed="$seed" 'BEGIN {
        srand(seed)
        n = split("the a small big red old new cat dog bird tree house river garden city road " \
                  "walked saw found made took gave liked sat ran looked over under near with " \
                  "and but then because while quietly slowly every morning evening", w, " ")
        for (d = 0; d < docs; d++) {
            if (d) print "<|endoftext|>"
            lines = 2 + int(rand() * 5)
            for (l = 0; l < lines; l++) {
                len = 5 + int(rand() * 8)
                s = ""
                for (k = 0; k < len; k++) s = s (k ? " " : "") w[1 + int(rand() * n)]
                print toupper(substr(s, 1, 1)) substr(s, 2) "."
            }
        }
    }' >"$file"
}

# make_shards DIR: a corpus and its byte-tokenizer shards in DIR/shards (train_*.bin, val_*.bin).
make_shards() {
    local dir=$1
    mkdir -p "$dir"
    make_corpus "$dir/corpus.txt" 80
    "$MANABI" data shards --out "$dir/shards" --val-fraction 0.15 "$dir/corpus.txt" >"$dir/shards.log" 2>&1 ||
        { cat "$dir/shards.log"; fail "manabi data shards failed"; }
    ls "$dir"/shards/train_*.bin >/dev/null 2>&1 || fail "no training shards made"
    ls "$dir"/shards/val_*.bin >/dev/null 2>&1 || fail "no validation shards made"
}

# expect_fail NAME WANT CMD...: CMD must exit non-zero and print (stdout or stderr) text
# containing WANT, a fixed string; "A|B" requires both A and B.
expect_fail() {
    local name=$1 want=$2
    shift 2
    local out rc=0 part
    out=$("$@" 2>&1) || rc=$?
    if [[ $rc -eq 0 ]]; then
        echo "$out" | tail -n 5 >&2
        fail "$name: exited 0, expected an error"
    fi
    local IFS='|'
    for part in $want; do
        if [[ $out != *"$part"* ]]; then
            echo "$out" | tail -n 5 >&2
            fail "$name: the message does not contain '$part'"
        fi
    done
    unset IFS
    echo "ok: $name (exit $rc): $(echo "$out" | grep -m 1 -F -- "${want%%|*}")"
}
