#!/bin/sh
# dist.sh VERSION DIR: write DIR/ucspi-VERSION.tar.gz, the source tree of the
# git HEAD with a VERSION file added, so that a build from the tarball (no git)
# knows its version. `make dist` runs it.
set -eu

usage() { echo "dist.sh: usage: dist.sh version dir" >&2; exit 100; }
fatal() { echo "dist.sh: fatal: $*" >&2; exit 111; }

[ $# -eq 2 ] || usage
version=$1
case "$version" in ''|*/*|*' '*) fatal "bad version: $version" ;; esac
cd "$(dirname "$0")/.."
mkdir -p "$2" || fatal "unable to create $2"
out=$(cd "$2" && pwd)/ucspi-$version.tar.gz
tmp=$(mktemp -d) || fatal "unable to create a temporary directory"
trap 'rm -rf "$tmp"' EXIT
git archive --format=tar --prefix="ucspi-$version/" HEAD | tar -x -C "$tmp" || fatal "unable to export HEAD"
echo "$version" > "$tmp/ucspi-$version/VERSION"
tar -c -z -f "$out.new" -C "$tmp" "ucspi-$version" && mv -f "$out.new" "$out" || fatal "unable to write $out"
echo "$out"
