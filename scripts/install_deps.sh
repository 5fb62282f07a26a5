#!/usr/bin/env bash
# Installs the Debian packages manabi needs, only those missing.  Run as root.
#   scripts/install_deps.sh           build dependencies
#   scripts/install_deps.sh --test    also what the tests use (PyTorch as the reference)
set -euo pipefail

packages=(gcc make pkg-config libc6-dev libopenblas-openmp-dev libjson-c-dev libpcre2-dev)
if [[ ${1:-} == --test ]]; then
    packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "install_deps: missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
    exit 1
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
