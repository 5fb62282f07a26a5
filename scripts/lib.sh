# Shell functions shared by the scripts in scripts/.  Source it after defining die().

# need_pkgs PKG...: apt-get install whatever is missing (apt-get update and retry on failure).
need_pkgs() {
  local p missing=() log
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "must run as root to install: ${missing[*]}"
  echo "  apt-get install ${missing[*]}"
  log=$(mktemp)
  local inst=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
  "${inst[@]}" "${missing[@]}" >"$log" 2>&1 ||
    { apt-get update -q >>"$log" 2>&1 && "${inst[@]}" "${missing[@]}" >>"$log" 2>&1; } ||
    { tail -n 20 "$log" >&2; rm -f "$log"; die "apt-get install failed: ${missing[*]}"; }
  rm -f "$log"
}

# The man pages in many languages that scripts/langid_sample.sh renders into the labelled
# language-identification sample (about 23 MB to download).
LANGID_PKGS=(groff-base manpages manpages-ja manpages-de manpages-fr manpages-es manpages-it manpages-pl
  manpages-pt-br manpages-nl manpages-zh manpages-ru manpages-uk manpages-sv manpages-cs)
