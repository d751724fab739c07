#!/usr/bin/env bash
# Builds PgBouncer >= 1.21 (prepared-statement tracking) from Debian's own source package
# (trixie's, whose binary package needs a newer glibc than this machine has) and prints
# the path of the binary. Reuses an earlier build.
set -euo pipefail

prefix="${PGBOUNCER_PREFIX:-/opt/pgbouncer}"
bin="$prefix/bin/pgbouncer"
if [ -x "$bin" ] && "$bin" --version | grep -qE 'PgBouncer 1\.(2[1-9]|[3-9][0-9])'; then
  echo "$bin"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The first Debian mirror this machine's apt already uses (one-line or deb822 sources).
mirror="$( (cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true) \
  | grep -vE '^[[:space:]]*#' | grep -oE 'https?://[^ ]*debian[^ ]*' | grep -v security \
  | head -n 1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
mkdir -p "$work/lists/partial"
echo "deb-src $mirror trixie main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/lists" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libevent-dev libc-ares-dev libssl-dev pkg-config make gcc >&2
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only pgbouncer >&2)
tar -xf "$work"/pgbouncer_*.orig.tar.* -C "$work"
src="$(find "$work" -maxdepth 1 -type d -name 'pgbouncer-1.*' | head -n 1)"
(cd "$src" && ./configure --prefix="$prefix" --without-systemd >&2 && make -j"$(nproc)" >&2 && make install >&2)
echo "$bin"
