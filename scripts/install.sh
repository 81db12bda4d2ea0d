#!/bin/sh
# install.sh [--binary FILE] DIR: install the ucspi binary as DIR/bin/ucspi and one
# symlink per applet beside it. The applet names come from the binary itself
# (`ucspi --list`), so the links and the binary always agree. Running it again is
# safe. install.sh --uninstall DIR removes exactly what it installed: the links
# that point at ucspi, then ucspi.
set -eu

usage() { echo "install.sh: usage: install.sh [ --binary file ] [ --uninstall ] dir" >&2; exit 100; }
fatal() { echo "install.sh: fatal: $*" >&2; exit 111; }

binary=ucspi
uninstall=
while [ $# -gt 1 ]; do
  case "$1" in
    --binary) [ $# -ge 3 ] || usage; binary=$2; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
bin=$1/bin

if [ -n "$uninstall" ]; then
  [ -x "$bin/ucspi" ] || exit 0
  for name in $("$bin/ucspi" --list | cut -f1); do
    if [ -L "$bin/$name" ] && [ "$(readlink "$bin/$name")" = ucspi ]; then
      rm -f "$bin/$name"
    fi
  done
  rm -f "$bin/ucspi"
  exit 0
fi

[ -f "$binary" ] || fatal "unable to find $binary: run make first"
mkdir -p "$bin" || fatal "unable to create $bin"
# Copy then rename, so a running ucspi is never overwritten in place.
cp "$binary" "$bin/.ucspi.new" && chmod 755 "$bin/.ucspi.new" && mv -f "$bin/.ucspi.new" "$bin/ucspi" ||
  fatal "unable to install $bin/ucspi"
for name in $("$bin/ucspi" --list | cut -f1); do
  if [ -e "$bin/$name" ] && ! [ -L "$bin/$name" ]; then
    fatal "$bin/$name exists and is not a symlink: not replacing it"
  fi
  ln -sfn ucspi "$bin/$name" || fatal "unable to link $bin/$name"
done
