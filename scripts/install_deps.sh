#!/usr/bin/env bash
# Installs the Debian packages manabi needs, only those missing.  Run as root.
#   scripts/install_deps.sh           build dependencies
#   scripts/install_deps.sh --test    also what the tests use (PyTorch as the reference, the
#                                     translated man pages of the language-identification sample)
set -euo pipefail

die() { echo "install_deps: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

packages=(gcc make pkg-config libc6-dev libopenblas-openmp-dev libjson-c-dev libpcre2-dev libutf8proc-dev zlib1g-dev libzstd-dev
          libxxhash-dev libxml2-dev libsqlite3-dev mandoc)
if [[ ${1:-} == --test ]]; then
    packages+=(python3-torch python3-numpy "${LANGID_PKGS[@]}")
fi

need_pkgs "${packages[@]}"
