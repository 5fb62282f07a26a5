#!/usr/bin/env bash
# Runs every test: the C unit tests (build/test_manabi) and the command-line tests
# (tests/sh/test_*.sh, each one test: exit 0 = pass, 77 = skipped with a reason).  Ends with "N passed, N failed" and
# exits non-zero when anything failed.  Usage: tests/run_all.sh [NAME-SUBSTRING...]
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export MANABI="$PWD/$BUILD/manabi"
passed=0
failed=0
skipped=0
failures=()

out=$(mktemp)
"$BUILD/test_manabi" "$@" | tee "$out"
unit_rc=${PIPESTATUS[0]}
line=$(tail -n 1 "$out")
rm -f "$out"
if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
    if [[ $unit_rc -ne 0 && ${BASH_REMATCH[2]} -eq 0 ]]; then failed=$((failed + 1)); failures+=("test_manabi crashed"); fi
else
    failed=$((failed + 1))
    failures+=("test_manabi (crashed or printed no summary)")
fi

for t in tests/sh/test_*.sh; do
    name=$(basename "$t" .sh)
    if [[ $# -gt 0 ]]; then
        match=0
        for f in "$@"; do [[ $name == *"$f"* ]] && match=1; done
        [[ $match -eq 1 ]] || continue
    fi
    log=$(mktemp)
    start=$(date +%s)
    bash "$t" >"$log" 2>&1
    rc=$?
    if [[ $rc -eq 0 ]]; then
        echo "ok   $name ($t, $(( $(date +%s) - start )) s)"
        passed=$((passed + 1))
    elif [[ $rc -eq 77 ]]; then  # the automake convention for "not applicable here"
        echo "skip $name: $(tail -n 1 "$log")"
        skipped=$((skipped + 1))
    else
        echo "FAIL $name ($t)"
        sed 's/^/    /' "$log" | tail -n 30
        failed=$((failed + 1))
        failures+=("$name")
    fi
    rm -f "$log"
done

[[ $failed -gt 0 ]] && printf 'failed: %s\n' "${failures[@]}"
[[ $skipped -gt 0 ]] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
