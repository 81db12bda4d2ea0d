#!/bin/sh
# install.sh [ --binary file ] [ --man dir ] [ --image ] dir
# install.sh --uninstall dir
#
# Installs the ucspi binary (default: bin/ucspi of this source tree, what `make`
# builds) as DIR/bin/ucspi, with one symlink per applet beside it; the applet
# names come from the binary itself (`ucspi --list`), so the links and the
# binary always agree. --man DIR also installs the man pages found in DIR (what
# `make man` writes) into DIR/share/man/man1. --image also writes the minimal
# DIR/etc/services of the FROM scratch image, so that port names work in it.
#
# Every target is checked before anything is written: a file in the way (a
# program of the same name, a link to something else, a man page not ours)
# leaves nothing installed. Running it again is safe.
#
# --uninstall DIR removes exactly what it installed: the links that point at
# ucspi, the man pages it wrote, then ucspi.
set -eu

usage() { echo "install.sh: usage: install.sh [ --binary file ] [ --man dir ] [ --image ] [ --uninstall ] dir" >&2; exit 100; }
fatal() { echo "install.sh: fatal: $*" >&2; exit 111; }

src=$(cd "$(dirname "$0")/.." && pwd)
binary=$src/bin/ucspi
mandir=
image=
uninstall=
while [ $# -gt 1 ]; do
  case "$1" in
    --binary) [ $# -ge 3 ] || usage; binary=$2; shift 2 ;;
    --man) [ $# -ge 3 ] || usage; mandir=$2; shift 2 ;;
    --image) image=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
case "$1" in -*) usage ;; esac
bin=$1/bin
man1=$1/share/man/man1

# ours_man FILE: FILE is a man page written by genman (its title line says ucspi).
ours_man() { head -n 1 "$1" 2>/dev/null | grep -q '^\.TH "[^"]*" 1 "" "ucspi '; }

if [ -n "$uninstall" ]; then
  [ -x "$bin/ucspi" ] || exit 0
  for name in $("$bin/ucspi" --list | cut -f1); do
    if [ -L "$bin/$name" ] && [ "$(readlink "$bin/$name")" = ucspi ]; then
      rm -f "$bin/$name"
    fi
    if [ -f "$man1/$name.1" ] && ours_man "$man1/$name.1"; then
      rm -f "$man1/$name.1"
    fi
  done
  rm -f "$bin/ucspi"
  exit 0
fi

[ -f "$binary" ] && [ -x "$binary" ] || fatal "unable to find $binary: run make first"
names=$("$binary" --list | cut -f1) || fatal "unable to run $binary --list"
[ -n "$names" ] || fatal "$binary --list named no applet"
if [ -n "$mandir" ]; then
  for name in $names; do
    [ -f "$mandir/$name.1" ] || fatal "unable to find $mandir/$name.1: run make man first"
  done
fi

# Every conflict first, all of them reported, before anything is written.
conflicts=0
conflict() { echo "install.sh: $*" >&2; conflicts=$((conflicts + 1)); }
if [ -e "$bin" ] && ! [ -d "$bin" ]; then
  conflict "$bin exists and is not a directory"
fi
if [ -L "$bin/ucspi" ] || { [ -e "$bin/ucspi" ] && ! [ -f "$bin/ucspi" ]; }; then
  conflict "$bin/ucspi exists and is not a file"
fi
for name in $names; do
  if [ -L "$bin/$name" ]; then
    [ "$(readlink "$bin/$name")" = ucspi ] || conflict "$bin/$name is a link to $(readlink "$bin/$name"), not to ucspi"
  elif [ -e "$bin/$name" ]; then
    conflict "$bin/$name exists and is not a link to ucspi"
  fi
  if [ -n "$mandir" ] && { [ -L "$man1/$name.1" ] || [ -e "$man1/$name.1" ]; } && ! ours_man "$man1/$name.1"; then
    conflict "$man1/$name.1 exists and is not ucspi's"
  fi
done
if [ -n "$image" ] && [ -e "$1/etc/services" ] && ! cmp -s "$src/scripts/services" "$1/etc/services"; then
  conflict "$1/etc/services exists and is not the image's"
fi
[ "$conflicts" -eq 0 ] || fatal "nothing installed: $conflicts conflicting file(s)"

mkdir -p "$bin" || fatal "unable to create $bin"
# Copy then rename, so a running ucspi is never overwritten in place.
cp "$binary" "$bin/.ucspi.new" && chmod 755 "$bin/.ucspi.new" && mv -f "$bin/.ucspi.new" "$bin/ucspi" ||
  fatal "unable to install $bin/ucspi"
for name in $names; do
  ln -sfn ucspi "$bin/$name" || fatal "unable to link $bin/$name"
done
if [ -n "$mandir" ]; then
  mkdir -p "$man1" || fatal "unable to create $man1"
  for name in $names; do
    cp "$mandir/$name.1" "$man1/.$name.1.new" && chmod 644 "$man1/.$name.1.new" &&
      mv -f "$man1/.$name.1.new" "$man1/$name.1" || fatal "unable to install $man1/$name.1"
  done
fi
if [ -n "$image" ]; then
  mkdir -p "$1/etc" && cp "$src/scripts/services" "$1/etc/services" && chmod 644 "$1/etc/services" ||
    fatal "unable to install $1/etc/services"
fi
