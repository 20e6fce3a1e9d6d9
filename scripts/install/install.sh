#!/usr/bin/env bash
# Installs micetrap on a Linux server with systemd:
#   /usr/local/bin/micetrap               the release binary, checked against SHA256SUMS first
#   /etc/systemd/system/micetrap.service  the hardened unit (replaced on every run)
#   /etc/micetrap/config.yaml             the sample config (only when there is none: yours is kept)
#   /etc/logrotate.d/micetrap             daily rotation, with a reload (SIGHUP) to reopen the log
#   /var/log/micetrap/                    where the events go
# Running it again is harmless. It never starts anything: it prints what to run next.
# The unit, the sample config and the logrotate rule are read from beside this script (a release
# directory, or scripts/install/ in the source tree), or fetched with --url.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh [--root DIR] [--sums FILE | --no-verify] BINARY
       install.sh [--root DIR] --url URL
  BINARY       a downloaded micetrap-<version>-linux-<arch> file; SHA256SUMS beside it must list it
  --url URL    download SHA256SUMS and this machine's binary from URL (a release's download folder)
  --sums FILE  the checksum list to check BINARY against (default: SHA256SUMS beside BINARY)
  --no-verify  install BINARY unchecked (one you built yourself)
  --root DIR   install under DIR instead of / (an image being built, a test)
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=""
sums=""
verify=1
url=""
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift 2 ;;
    --root=*) root=${1#*=}; shift ;;
    --sums) [ $# -ge 2 ] || die "--sums needs a file"; sums=$2; shift 2 ;;
    --sums=*) sums=${1#*=}; shift ;;
    --url) [ $# -ge 2 ] || die "--url needs a URL"; url=${2%/}; shift 2 ;;
    --url=*) url=${1#*=}; url=${url%/}; shift ;;
    --no-verify) verify=0; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$binary" ] || die "one binary only, got $binary and $1"; binary=$1; shift ;;
  esac
done
[ -n "$binary" ] || [ -n "$url" ] || die "give the binary to install, or --url (see --help)"
[ -z "$binary" ] || [ -z "$url" ] || die "give a binary or --url, not both"
[ "$verify" = 1 ] || [ -z "$url" ] || die "--no-verify is for a local binary; a download is always checked"
[ "$verify" = 1 ] || [ -z "$sums" ] || die "--sums and --no-verify contradict each other"

if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root: no such directory"
  root=$(cd "$root" && pwd)
  [ "$root" != / ] || root=""
elif [ "$(id -u)" -ne 0 ]; then
  die "installing into / needs root: run it with sudo (or give --root DIR)"
fi

# The release file for this machine: linux-x64, linux-x64-baseline (no AVX2), linux-arm64, -musl variants.
platform() {
  [ "$(uname -s)" = Linux ] || die "this installer is for Linux with systemd; $(uname -s) has no systemd"
  local arch libc=""
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no micetrap release for $(uname -m)" ;;
  esac
  if ls /lib/ld-musl-*.so.1 >/dev/null 2>&1 && ! ls /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1 >/dev/null 2>&1; then
    libc=-musl
  fi
  if [ "$arch" = x64 ] && [ -z "$libc" ] && ! grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    echo linux-x64-baseline
  else
    echo "linux-$arch$libc"
  fi
}

tmp=""
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT

fetch() { # fetch NAME: downloads $url/NAME into $tmp
  curl -fsSL --retry 2 --max-time 600 -o "$tmp/$1" "$url/$1" || die "cannot download $url/$1"
}

# sum_of FILE NAME: the checksum FILE lists for NAME ("" when it lists none).
sum_of() {
  awk -v f="$2" '($2 == f || $2 == "*" f) && $1 ~ /^[0-9a-f]{64}$/ { print $1; exit }' "$1"
}

# check FILE NAME: FILE's SHA-256 must be the one $sums lists for NAME.
check() {
  local want got
  want=$(sum_of "$sums" "$2")
  [ -n "$want" ] || die "$sums does not list $2"
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$want" = "$got" ] || die "checksum mismatch for $2: $sums says $want, the file is $got (a damaged or altered download: fetch it again)"
}

if [ -n "$url" ]; then
  command -v curl >/dev/null || die "--url needs curl"
  tmp=$(mktemp -d)
  plat=$(platform)
  fetch SHA256SUMS
  sums=$tmp/SHA256SUMS
  # Names come from a downloaded file: only plain release names are used as paths.
  name=$(awk '{ print $2 }' "$sums" | sed 's/^\*//' | grep -E "^micetrap-[0-9A-Za-z.+-]+-${plat}\$" | head -n 1 || true)
  [ -n "$name" ] || die "$url/SHA256SUMS lists no micetrap build for $plat"
  fetch "$name"
  binary=$tmp/$name
fi

[ -e "$binary" ] || die "no such file: $binary"
[ -f "$binary" ] || die "not a file: $binary"
name=$(basename "$binary")
if [ "$verify" = 1 ]; then
  [ -n "$sums" ] || sums=$(dirname "$binary")/SHA256SUMS
  [ -f "$sums" ] || die "no $sums to check $name against: download SHA256SUMS beside it, give --sums FILE, or --no-verify for a binary you built"
  check "$binary" "$name"
fi

# The unit, the sample config and the logrotate rule: beside this script, or from the release.
files=$here
for f in micetrap.service config.yaml micetrap.logrotate; do
  if [ ! -f "$here/$f" ]; then
    [ -n "$url" ] || die "$f is missing beside $0: keep the release's files together (or use --url)"
    fetch "$f"
    check "$tmp/$f" "$f"
    files=$tmp
  fi
done
if [ "$files" = "$tmp" ]; then
  for f in micetrap.service config.yaml micetrap.logrotate; do
    [ -f "$tmp/$f" ] || cp "$here/$f" "$tmp/$f"
  done
fi

# put SRC DEST MODE: installs atomically (a temporary file beside DEST, then a rename); says what changed.
put() {
  local src=$1 dest=$2 mode=$3 what=updated
  [ -e "$dest" ] || what=installed
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    echo "  unchanged  ${dest#"$root"}"
    return
  fi
  install -m "$mode" "$src" "$dest.new.$$"
  mv -f "$dest.new.$$" "$dest"
  echo "  $what  ${dest#"$root"}"
}

mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/logrotate.d"
install -d -m 0755 "$root/etc/micetrap"
install -d -m 0750 "$root/var/log/micetrap"

# The binary must run here before it replaces anything.
bin=$root/usr/local/bin/micetrap
install -m 0755 "$binary" "$bin.new.$$"
if ! version=$("$bin.new.$$" --version 2>/dev/null) || [ "${version#micetrap }" = "$version" ]; then
  rm -f "$bin.new.$$"
  die "$name does not run on this machine: take the file for $(platform)"
fi
if [ -f "$bin" ] && cmp -s "$bin.new.$$" "$bin"; then
  rm -f "$bin.new.$$"
  echo "  unchanged  /usr/local/bin/micetrap ($version)"
else
  what=updated
  [ -e "$bin" ] || what=installed
  mv -f "$bin.new.$$" "$bin"
  echo "  $what  /usr/local/bin/micetrap ($version)"
fi

put "$files/micetrap.service" "$root/etc/systemd/system/micetrap.service" 0644
put "$files/micetrap.logrotate" "$root/etc/logrotate.d/micetrap" 0644
if [ -e "$root/etc/micetrap/config.yaml" ]; then
  echo "  kept       /etc/micetrap/config.yaml (yours; the sample is $files/config.yaml)"
else
  put "$files/config.yaml" "$root/etc/micetrap/config.yaml" 0644
fi
echo "  directory  /var/log/micetrap"

where=""
[ -z "$root" ] || where=" under $root"
cat <<EOF
micetrap is installed$where. Next:
  micetrap validate /etc/micetrap/config.yaml   # edit the config first if you like
  systemctl daemon-reload
  systemctl enable --now micetrap               # after an upgrade: systemctl restart micetrap
  journalctl -u micetrap -f                     # what it prints
  tail -f /var/log/micetrap/events.jsonl        # the events, one JSON object a line
EOF
