#!/bin/sh
# Side by side with Debian's ucspi-tcp 0.88: tcprules compiling the generated
# 100,000-line rules file (the one cdbrules' tests compare byte for byte), and
# tcprulescheck answering a lookup that goes through the whole search order.
# Each figure is the best of several runs. Then the Go benchmarks, which time
# the same work in-process, without starting a program.
set -eu
cd "$(dirname "$0")/.."
REF=${UCSPI_REF_DIR:-/usr/bin}
RUNS=${RUNS:-5}
LOOKUPS=${LOOKUPS:-200}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The static binary (make static) is the one installed; bin/ucspi may use cgo,
# whose dynamic loading slows every program start.
if [ -x bin/ucspi-static ]; then
  cp bin/ucspi-static "$work/ucspi"
else
  CGO_ENABLED=0 go build -o "$work/ucspi" .
fi
ln -s ucspi "$work/tcprules"
ln -s ucspi "$work/tcprulescheck"
go test ./cdbrules -count=1 -run '^TestGenerateRulesFile$' -rules-out "$work/rules.txt" >/dev/null

now() { date +%s%N; }

# best PROG ARGS...: the fastest of $RUNS runs, in microseconds.
best() {
  b=
  i=0
  while [ $i -lt "$RUNS" ]; do
    t0=$(now)
    "$@"
    t=$(( ($(now) - t0) / 1000 ))
    if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
    i=$((i + 1))
  done
  echo "$b"
}

compile() { "$1" "$work/$2.cdb" "$work/$2.tmp" <"$work/rules.txt"; }
ref_us=$(best compile "$REF/tcprules" ref)
our_us=$(best compile "$work/tcprules" ours)
cmp "$work/ref.cdb" "$work/ours.cdb"
printf 'tcprules, 100,000 lines (%s bytes of cdb, identical): reference %d.%03d s, ours %d.%03d s\n' \
  "$(wc -c <"$work/ours.cdb")" $((ref_us / 1000000)) $((ref_us / 1000 % 1000)) $((our_us / 1000000)) $((our_us / 1000 % 1000))

# LOOKUPS runs of tcprulescheck: info and host known, no rule matching until
# the default is tried, so every key of the search order is looked up.
lookups() {
  n=0
  while [ $n -lt "$LOOKUPS" ]; do
    TCPREMOTEIP=2001:db8:ffff:1::9 TCPREMOTEHOST=mail.nowhere.example.invalid TCPREMOTEINFO=nobody \
      "$1" "$work/ours.cdb" >/dev/null
    n=$((n + 1))
  done
}
ref_us=$(best lookups "$REF/tcprulescheck")
our_us=$(best lookups "$work/tcprulescheck")
printf 'tcprulescheck, one lookup through the whole search order (program start included): reference %d us, ours %d us\n' \
  $((ref_us / LOOKUPS)) $((our_us / LOOKUPS))

go test ./cdbrules -count=1 -run '^$' -bench '^Benchmark(Compile100k|Lookup|LookupFile)$' -benchmem | grep '^Benchmark'
