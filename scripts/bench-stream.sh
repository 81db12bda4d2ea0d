#!/bin/bash
# bench-stream.sh [UCSPI-BINARY]: throughput of our addcr and delcr against
# Debian's on 1 GB of mixed input (LF lines, CR LF lines, CR CR LF, binary).
#
# The input is made once in a temporary file; each round runs ours and Debian's
# alternately, reading the file and writing to /dev/null, so the figure is the
# tool's own speed. It prints one line per tool: median MB/s of each, the ratio,
# and each one's largest maximum RSS.
#
# Environment: BENCH_MB (input size, default 1024), BENCH_ROUNDS (default 5),
# UCSPI_REF_DIR (where Debian's tools are, default /usr/bin). Without a binary
# argument, it uses bin/ucspi (what make builds) or builds ucspi from this
# checkout.
set -euo pipefail

size_mb=${BENCH_MB:-1024}
rounds=${BENCH_ROUNDS:-5}
refdir=${UCSPI_REF_DIR:-/usr/bin}
root=$(cd "$(dirname "$0")/.." && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-stream.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ $# -ge 1 ]; then
  bin=$(realpath "$1")
elif [ -x "$root/bin/ucspi" ]; then
  bin=$root/bin/ucspi
else
  (cd "$root" && CGO_ENABLED=0 go build -o "$tmp/ucspi" .)
  bin=$tmp/ucspi
fi
for tool in addcr delcr; do
  ln -s "$bin" "$tmp/$tool"
  if [ ! -x "$refdir/$tool" ]; then
    echo "bench-stream: $refdir/$tool is not installed" >&2
    exit 111
  fi
done

# One megabyte of mail-like lines ending in LF, CR LF or CR CR LF, with a block
# of random binary (NULs included) after it, repeated up to the size.
awk 'BEGIN {
  srand(88)
  split("From: someone@example.com|Subject: a line of text|RCPT TO:<postmaster@example.org>|250 ok|the quick brown fox jumps over the lazy dog, again and again|", w, "|")
  n = 0
  while (n < 900000) {
    s = w[int(rand() * 6) + 1]
    r = rand()
    if (r < 0.4) e = "\r\n"; else if (r < 0.45) e = "\r\r\n"; else e = "\n"
    printf "%s%s", s, e
    n += length(s) + length(e)
  }
}' > "$tmp/chunk"
head -c $((1048576 - $(wc -c < "$tmp/chunk"))) /dev/urandom >> "$tmp/chunk"
for _ in $(seq "$size_mb"); do cat "$tmp/chunk"; done > "$tmp/input"
bytes=$(wc -c < "$tmp/input")

# run PROG: prints "MB/s maxrss-kB" for one pass over the input.
run() {
  local start end rss
  if [ -x /usr/bin/time ]; then
    start=$(date +%s%N)
    /usr/bin/time -o "$tmp/rss" -f %M "$1" < "$tmp/input" > /dev/null
    end=$(date +%s%N)
    rss=$(tail -n 1 "$tmp/rss")
  else
    # Without time(1), sample VmHWM (a high-water mark) while it runs.
    start=$(date +%s%N)
    "$1" < "$tmp/input" > /dev/null &
    local pid=$! hwm
    rss=0
    while hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$hwm" ]; do
      rss=$hwm
      sleep 0.01
    done
    wait "$pid"
    end=$(date +%s%N)
  fi
  awk -v b="$bytes" -v ns=$((end - start)) -v rss="$rss" 'BEGIN { printf "%.1f %d\n", b / 1048576 / (ns / 1e9), rss }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for tool in addcr delcr; do
  : > "$tmp/ours" ; : > "$tmp/ref"
  # A first pass each, not counted, so that the input is in the page cache and
  # neither side pays for it.
  run "$tmp/$tool" > /dev/null
  run "$refdir/$tool" > /dev/null
  for _ in $(seq "$rounds"); do
    run "$tmp/$tool" >> "$tmp/ours"
    run "$refdir/$tool" >> "$tmp/ref"
  done
  ours=$(cut -d' ' -f1 "$tmp/ours" | median)
  ref=$(cut -d' ' -f1 "$tmp/ref" | median)
  ours_rss=$(cut -d' ' -f2 "$tmp/ours" | sort -n | tail -n 1)
  ref_rss=$(cut -d' ' -f2 "$tmp/ref" | sort -n | tail -n 1)
  awk -v t="$tool" -v o="$ours" -v r="$ref" -v orss="$ours_rss" -v rrss="$ref_rss" -v mb=$((bytes / 1048576)) -v n="$rounds" \
    'BEGIN { printf "%s: ours %.0f MB/s, debian %.0f MB/s, ratio %.2fx; max RSS ours %d kB, debian %d kB (%d MB input, median of %d)\n", t, o, r, o / r, orss, rrss, mb, n }'
done
