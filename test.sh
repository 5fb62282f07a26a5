#!/usr/bin/env bash
# Builds manabi and runs every test, twice: an optimised build, then an AddressSanitizer +
# UndefinedBehaviorSanitizer build.  Installs the Debian packages it needs (as root).
# Ends with the summary line of each run; exits non-zero if any test failed.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install_deps.sh --test
make -j"$(nproc)" test
make -j"$(nproc)" SAN=1 test
