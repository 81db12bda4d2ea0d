#!/bin/sh
# bench-server.sh: connections per second of our tcpserver side by side with
# Debian's /usr/bin/tcpserver and with a bare posix_spawn server (the floor a
# spawning server cannot beat by much), all running the same tiny static
# handler, interleaved (ours, Debian's, floor, ours, ...) so that a machine
# busy with something else hurts all alike. Then the servers' resident memory,
# idle and with 40 handlers running. Besides connections per second it reports
# the server's own CPU time per connection (its utime+stime, the handlers'
# excluded), which a machine busy with other work disturbs less.
#
# Environment: ROUNDS (5), N connections per run (4000), LEVELS in flight
# ("1 8 40"), BACKLOG (the servers' listen backlog, tcpserver's default 20; at
# 40 in flight a backlog of 20 overflows and 1 s SYN retransmissions decide the
# figures, so `BACKLOG=100 LEVELS=40` measures the servers instead), REF (the
# reference tcpserver, /usr/bin/tcpserver), OUT (a file to keep the JSON lines
# in). Needs go, gcc with a static libc.
set -eu

ROUNDS=${ROUNDS:-5}
BACKLOG=${BACKLOG:-20}
N=${N:-4000}
LEVELS=${LEVELS:-"1 8 40"}
REF=${REF:-/usr/bin/tcpserver}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
srvpid=

cleanup() {
	if [ -n "$srvpid" ]; then kill "$srvpid" 2>/dev/null || :; fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "building ..." >&2
(cd "$root" && go build -o "$work/ucspi" . && go build -o "$work/loadgen" ./bench/loadgen)
ln -s ucspi "$work/tcpserver"
gcc -O2 -static -o "$work/okprog" "$root/bench/okprog.c"
gcc -O2 -o "$work/spawnfloor" "$root/bench/spawnfloor.c"
ours="$work/tcpserver"
[ -x "$REF" ] || { echo "bench-server: no reference at $REF" >&2; exit 111; }

# start CMD...: runs a server that prints its port on its first stdout line,
# waits (at most 5 s) for that line, sets srvpid and port.
start() {
	: >"$work/port"
	"$@" >"$work/port" 2>"$work/stderr" &
	srvpid=$!
	i=0
	while [ ! -s "$work/port" ]; do
		i=$((i + 1))
		if [ $i -gt 500 ]; then
			echo "bench-server: $* did not start:" >&2
			cat "$work/stderr" >&2
			exit 111
		fi
		sleep 0.01
	done
	port=$(head -n 1 "$work/port")
}

stop() {
	kill "$srvpid"
	wait "$srvpid" 2>/dev/null || :
	srvpid=
}

server() { # name handler...: the command line of server name
	name=$1
	shift
	case $name in
	ours) echo "$ours -1 -R -H -l0 -b $BACKLOG 127.0.0.1 0 $*" ;;
	debian) echo "$REF -1 -R -H -l0 -b $BACKLOG 127.0.0.1 0 $*" ;;
	floor) echo "$work/spawnfloor -b $BACKLOG 0 40 $*" ;;
	esac
}

# ticks PID: the CPU time PID has used itself, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

results=$work/results.jsonl
for level in $LEVELS; do
	round=1
	while [ $round -le "$ROUNDS" ]; do
		for name in ours debian floor; do
			# shellcheck disable=SC2046 # the command line is meant to split
			start $(server $name "$work/okprog")
			t0=$(ticks "$srvpid")
			line=$("$work/loadgen" -addr "127.0.0.1:$port" -n "$N" -c "$level" -label "$name $level")
			t1=$(ticks "$srvpid")
			# the loadgen's warm-up connections are counted too: 100 of them
			cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$N" 'BEGIN { printf "%.1f", t * 1e6 / hz / (n + 100) }')
			echo "$line" | sed "s/}\$/,\"server_cpu_us\":$cpu}/" >>"$results"
			stop
		done
		round=$((round + 1))
	done
done
if [ -n "${OUT:-}" ]; then cp "$results" "$OUT"; fi

# median NAME LEVEL FIELD: the median of FIELD over the runs of NAME at LEVEL.
median() {
	grep "\"label\":\"$1 $2\"" "$results" |
		sed -n "s/.*\"$3\":\([0-9.e+-]*\).*/\1/p" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "connections/s with okprog (median of $ROUNDS runs of $N connections; -R -H -l0 -b $BACKLOG)"
printf '%-9s %9s %9s %6s %9s %10s %9s %9s %12s\n' "in flight" ours debian ratio floor ours/floor "p99 ours" "p99 deb" "cpu/conn o:d:f"
for level in $LEVELS; do
	o=$(median ours "$level" conns_per_s)
	d=$(median debian "$level" conns_per_s)
	f=$(median floor "$level" conns_per_s)
	po=$(median ours "$level" p99_us)
	pd=$(median debian "$level" p99_us)
	co=$(median ours "$level" server_cpu_us)
	cd=$(median debian "$level" server_cpu_us)
	cf=$(median floor "$level" server_cpu_us)
	awk -v l="$level" -v o="$o" -v d="$d" -v f="$f" -v po="$po" -v pd="$pd" -v co="$co" -v cd="$cd" -v cf="$cf" 'BEGIN {
		printf "%-9s %9.0f %9.0f %5.2fx %9.0f %9.2fx %7.0fus %7.0fus %4.0f:%.0f:%.0fus\n", l, o, d, o / d, f, o / f, po, pd, co, cd, cf }'
done

# rss PID: resident set size in kB.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

echo
echo "resident memory of the server (kB): idle, after 1000 connections, with 40 handlers running"
for name in ours debian; do
	# shellcheck disable=SC2046
	start $(server $name "$work/okprog" hold)
	idle=$(rss "$srvpid")
	"$work/loadgen" -addr "127.0.0.1:$port" -n 1000 -c 8 -send x -label warm >/dev/null 2>&1 || :
	warm=$(rss "$srvpid")
	"$work/loadgen" -addr "127.0.0.1:$port" -c 40 -hold 2s 2>/dev/null &
	holder=$!
	sleep 1
	busy=$(rss "$srvpid")
	wait $holder || :
	stop
	printf '%-7s idle %6s  warm %6s  40 handlers %6s\n' "$name" "$idle" "$warm" "$busy"
done
