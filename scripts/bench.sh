#!/bin/bash
# bench.sh (make bench): our programs side by side with the C ones they
# replace, on this machine, in one run of a few minutes:
#
#   servers  connections/s of our tcpserver, Debian's, a bare posix_spawn
#            server (the floor) and, when installed, ipsvd's and busybox's
#            tcpsvd, all running the same static C handler (bench/okprog.c),
#            at 1, 8 and 40 connections in flight, in interleaved rounds;
#   load     20,000 connections at 40 in flight to ours (errors counted), and
#            200 in flight against -c 40 -b 200, ours and Debian's (the
#            connections beyond 40 wait in the backlog);
#   memory   each server's RSS idle, with 40 sleeping handlers, and under
#            load (MEM_N connections at 40 in flight: median and peak of
#            samples), and the size of each binary;
#   stream   addcr and delcr throughput (scripts/bench-stream.sh);
#   rules    tcprules compiling 100,000 lines, tcprulescheck lookups;
#   scale    1,000 then 10,000 connections held open: the server's RSS,
#            threads, descriptors and CPU, and the connections/s it still
#            accepts on top;
#   chains   tcpserver running argv0 and rblsmtpd in front of the handler,
#            ours (which does their work in-process) and Debian's, at 1 and
#            8 in flight, and a spam flood: 100 listed clients beside 100
#            unlisted ones against -c 40; and the handler alone under -h -p,
#            a reverse and a forward lookup per connection;
#   startup  how long argv0 /bin/true takes to start and exec: ours (the
#            static binary, and the default make build), the Go floor
#            (bench/gofloor), the Go floor linking the standard packages
#            ucspi links, and Debian's C;
#   tls      sslserver against stunnel4 (exec = okprog: a process per
#            connection) and Debian's tcpserver -DRHl0 running tlswrapper
#            (TLS 1.2 only, so ours at 1.2 too in that section), when
#            installed: full handshakes (X25519) with an ECDSA P-256 and an
#            RSA-2048 certificate at 1, 8 and 40 in flight in interleaved
#            rounds, resumed handshakes, 100 MB from the program to the client,
#            the server's memory per held connection (1,000 held), and its CPU
#            per connection against plain tcpserver's and against the
#            handshake alone (bench/tlsfloor);
#   proxy    HAProxy in front of one server: ours with --proxy-from reading
#            PROXY v2 and v1 headers, ours without PROXY and Debian's, at 8
#            and 40 in flight (skipped when haproxy is not installed);
#   iplimit  ours with -C 1000 -x against -x alone, at 8 and 40 in flight;
#            the per-IP record with 10,000 connections held from 1,000
#            addresses (the server's RSS, and BenchmarkIPRecord's bytes per
#            running program);
#   reuseport two --reuse-port servers on one port against one, at 40 in
#            flight.
#
# Everything listens on 127.0.0.1 only; every server is started in its own
# process group and killed with its handlers, on the way out too. The results
# go to docs/bench.md and the README's bench section (bench/report), the raw
# JSON lines to build/bench-results.jsonl.
#
# Environment (the defaults fit in 5 minutes on 2 busy cores):
#   ROUNDS (5) and N (1500): rounds, and connections per run, of "servers"
#   (N40, 3000, at 40 or more in flight); BACKLOG40 (4096): the backlog
#   (-b) every server gets at 40 in flight in the servers, proxy, iplimit
#   and reuseport stages (see backlog_at);
#   LEVELS ("1 8 40"); SERVERS (ours debian floor, plus tcpsvd and busybox
#   when installed); LOAD_N (20000), BACKLOG_N (4000); MEM_N (10000);
#   STREAM_MB (256) and STREAM_ROUNDS (3); RULES_LINES (100000),
#   RULES_ROUNDS (5), LOOKUPS (300); HOLD ("1000 10000"), ONTOP (1000);
#   CHAIN_ROUNDS (3), CHAIN_N (600), FLOOD_N (1000), STARTUP_N (300);
#   TLS_ROUNDS (3), TLS_N (500), TLS_LEVELS ("1 8 40"), TLS_MB (100),
#   TLS_HOLD (1000), TLS_CPU_N (2000);
#   IPREC_HOLD (10000) and IPREC_SOURCES (1000): the per-IP record's held
#   connections and their addresses;
#   STAGES ("servers load memory stream rules scale chains startup tls proxy
#   iplimit reuseport"): which to run;
#   UCSPI (the binary to measure; by default make static builds
#   bin/ucspi-static), UCSPI_REF_DIR (/usr/bin);
#   OUT_MD (docs/bench.md) and README (README.md): where the report goes,
#   "" for nowhere.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
N=${N:-1500}
N40=${N40:-$((2 * N))}
BACKLOG40=${BACKLOG40:-4096}
LEVELS=${LEVELS:-"1 8 40"}
LOAD_N=${LOAD_N:-20000}
BACKLOG_N=${BACKLOG_N:-4000}
MEM_N=${MEM_N:-10000}
STREAM_MB=${STREAM_MB:-256}
STREAM_ROUNDS=${STREAM_ROUNDS:-3}
RULES_LINES=${RULES_LINES:-100000}
RULES_ROUNDS=${RULES_ROUNDS:-5}
LOOKUPS=${LOOKUPS:-300}
HOLD=${HOLD:-"1000 10000"}
ONTOP=${ONTOP:-1000}
CHAIN_ROUNDS=${CHAIN_ROUNDS:-3}
CHAIN_N=${CHAIN_N:-600}
FLOOD_N=${FLOOD_N:-1000}
STARTUP_N=${STARTUP_N:-300}
TLS_ROUNDS=${TLS_ROUNDS:-3}
TLS_N=${TLS_N:-500}
TLS_LEVELS=${TLS_LEVELS:-"1 8 40"}
TLS_MB=${TLS_MB:-100}
TLS_HOLD=${TLS_HOLD:-1000}
TLS_CPU_N=${TLS_CPU_N:-2000}
IPREC_HOLD=${IPREC_HOLD:-10000}
IPREC_SOURCES=${IPREC_SOURCES:-1000}
STAGES=${STAGES:-"servers load memory stream rules scale chains startup tls proxy iplimit reuseport"}
REF_DIR=${UCSPI_REF_DIR:-/usr/bin}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Without UCSPI, make static builds the binary to measure (again: it may be stale).
if [ -z "${UCSPI:-}" ]; then
	UCSPI=bin/ucspi-static
	build_static=1
fi
OUT_MD=${OUT_MD-docs/bench.md}
README=${README-README.md}
began=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
srvpid=
holders=()
others=() # process groups of the proxy and reuseport stages (HAProxy, a second server)
cleanup() {
	for h in "${holders[@]}"; do kill "$h" 2>/dev/null || :; done
	for g in "${others[@]}"; do kill -KILL -- "-$g" 2>/dev/null || :; done
	if [ -n "$srvpid" ]; then kill -KILL -- "-$srvpid" 2>/dev/null || :; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
die() {
	say "bench: $*"
	exit 111
}

# The descriptor limit as high as it goes: the scale stage holds 10,000
# connections, and everything started from here inherits the limit.
ulimit -n "$(ulimit -Hn)"

say "building ..."
if [ -n "${build_static:-}" ]; then make -s static; fi
[ -x "$UCSPI" ] || die "no $UCSPI (make static makes it)"
ucspi=$(realpath "$UCSPI")
for a in tcpserver tcprules tcprulescheck sslserver; do ln -s "$ucspi" "$work/$a"; done
CGO_ENABLED=0 go build -o "$work/" ./bench/loadgen ./bench/holder ./bench/report ./bench/dnsd ./bench/tlsfloor
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/" ./bench/gofloor
# Written anew, as make's lazybss step writes ours: the linker's output sits in
# the page cache in 4 kB folios, which slows every start of it (the floor's
# by a few per cent); a copied or installed binary is cached in large ones.
cp "$work/gofloor" "$work/gofloor.new" && mv "$work/gofloor.new" "$work/gofloor"
# The same floor linking every standard package ucspi links (their init
# functions run before main whatever the applet): what start-up costs any Go
# program with TLS in it, which no work of ours can go below.
mkdir "$work/gofloorstd"
{
	sed -n '/^import (/q;p' bench/gofloor/main.go
	echo 'import ('
	go list -deps . | grep -v -e '\.' -e 'internal' -e '^vendor/' -e '^unsafe$' -e '^runtime/cgo$' | sed 's/.*/\t_ "&"/'
	sed -n '/^import (/,$p' bench/gofloor/main.go | sed 1d
} >"$work/gofloorstd/main.go"
printf 'module gofloorstd\n' >"$work/gofloorstd/go.mod"
(cd "$work/gofloorstd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/gofloorstd.new" .)
mv "$work/gofloorstd.new" "$work/gofloorstd/gofloor"
gcc -O2 -static -o "$work/okprog" bench/okprog.c
gcc -O2 -o "$work/startup" bench/startup.c
gcc -O2 -o "$work/spawnfloor" bench/spawnfloor.c
for p in tcpserver tcprules tcprulescheck; do
	[ -x "$REF_DIR/$p" ] || die "no reference $REF_DIR/$p (apt-get install ucspi-tcp)"
done

if [ -z "${SERVERS:-}" ]; then
	SERVERS="ours debian floor"
	case $(tcpsvd 2>&1) in *"usage: tcpsvd"*) SERVERS="$SERVERS tcpsvd" ;; esac
	case $'\n'$(busybox --list 2>/dev/null)$'\n' in *$'\n'tcpsvd$'\n'*) SERVERS="$SERVERS busybox" ;; esac
fi
servers_only=${SERVERS/floor/}
results=$work/results.jsonl
: >"$results"

has() { case " $STAGES " in *" $1 "*) return 0 ;; esac; return 1; }

# The steps, counted up front so that each progress line can say how many
# are left.
set -- $LEVELS
nlevels=$#
set -- $SERVERS
nservers=$#
set -- $servers_only
nmemory=$#
set -- $HOLD
nhold=$#
total=0
has servers && total=$((total + ROUNDS * nlevels * nservers))
has load && total=$((total + 3))
has memory && total=$((total + 2 * nmemory))
has stream && total=$((total + 1))
has rules && total=$((total + RULES_ROUNDS * 4))
has scale && total=$((total + 2 * (nhold + 2)))
has chains && total=$((total + CHAIN_ROUNDS * 2 * 2 * 5 + 2))
has startup && total=$((total + 1))
has proxy && total=$((total + ROUNDS * 2 * 4))
has iplimit && total=$((total + ROUNDS * 2 * 2 + 3))
has reuseport && total=$((total + ROUNDS * 2))
if has tls; then
	tls_servers="ours"
	command -v stunnel4 >/dev/null && tls_servers="$tls_servers stunnel"
	tls12_servers="ours"
	command -v tlswrapper >/dev/null && tls12_servers="$tls12_servers tlswrapper"
	set -- $tls_servers
	ntls=$#
	set -- $tls_servers $tls12_servers
	nruns=$#
	set -- $TLS_LEVELS
	total=$((total + TLS_ROUNDS * 2 * $# * nruns + 2 * ntls + 3 * TLS_ROUNDS))
fi
done=0
step() {
	done=$((done + 1))
	say "[$(($(date +%s) - began))s] $*, $((total - done)) steps left"
}

# emit SECTION ROW IMPL VALUE: one figure for the report.
emit() {
	printf '{"section":"%s","row":"%s","impl":"%s","value":%s}\n' "$1" "$2" "$3" "$4" >>"$results"
}

# free_port: a port nothing listens on, below the ephemeral range.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		[ -z "$(ss -Hltn "sport = :$p")" ] && break
	done
	echo "$p"
}

# backlog_at LEVEL: the backlog for a server measured at LEVEL in flight.
# At 40 in flight against -c 40, the default of 20 overflows whenever more
# than 20 clients have seen their program end before the server has collected
# it; each SYN dropped stalls its client for the kernel's one-second
# retransmission, and a round then measured how many drops it happened to
# have (0.63x to 1.83x between rounds, ours against Debian's, both dropping).
# So at 40 every server, ours, Debian's and the floor alike, gets BACKLOG40,
# as the TLS stage gives every server stunnel's 4096; at 1 and 8 the default
# is never full.
backlog_at() {
	if [ "$1" -ge 40 ]; then echo "$BACKLOG40"; else echo -; fi
}

# start IMPL LIMIT BACKLOG PROGRAM...: runs server IMPL on 127.0.0.1:$port in
# its own process group (setsid: the group is its pid), returns once it listens.
# The tcpservers get the options in srvopts; every server gets the variables
# in srvenv.
srvopts=(-R -H -l0)
srvenv=()
start() {
	local impl=$1 limit=$2 backlog=$3
	shift 3
	port=$(free_port)
	local b=()
	if [ "$backlog" != - ]; then b=(-b "$backlog"); fi
	case $impl in
	ours) set -- "$work/tcpserver" "${srvopts[@]}" -c "$limit" "${b[@]}" 127.0.0.1 "$port" "$@" ;;
	debian) set -- "$REF_DIR/tcpserver" "${srvopts[@]}" -c "$limit" "${b[@]}" 127.0.0.1 "$port" "$@" ;;
	floor) set -- "$work/spawnfloor" "${b[@]}" "$port" "$limit" "$@" ;;
	tcpsvd) set -- tcpsvd -l 0 -c "$limit" "${b[@]}" 127.0.0.1 "$port" "$@" ;;
	busybox) set -- busybox tcpsvd -l 0 -c "$limit" "${b[@]}" 127.0.0.1 "$port" "$@" ;;
	# The TLS servers, with the certificate $tlskey.pem and its key.
	sslserver) set -- env CERTFILE="$work/$tlskey.pem" KEYFILE="$work/$tlskey.key" \
		"$work/sslserver" "${srvopts[@]}" -c "$limit" "${b[@]}" 127.0.0.1 "$port" "$@" ;;
	stunnel)
		printf 'foreground = yes\npid =\ndebug = 0\n[bench]\naccept = 127.0.0.1:%s\nexec = %s\nexecArgs = %s\ncert = %s\nkey = %s\n' \
			"$port" "$1" "$(basename "$1") ${*:2}" "$work/$tlskey.pem" "$work/$tlskey.key" >"$work/stunnel.conf"
		set -- stunnel4 "$work/stunnel.conf" ;;
	tlswrapper) set -- "$REF_DIR/tcpserver" -DRHl0 -c "$limit" "${b[@]}" 127.0.0.1 "$port" \
		tlswrapper -f "$work/$tlskey.keycert" "$@" ;;
	tlsfloor) set -- "$work/tlsfloor" -addr "127.0.0.1:$port" -cert "$work/$tlskey.pem" -key "$work/$tlskey.key" ;;
	*) die "no server named $impl" ;;
	esac
	setsid env "${srvenv[@]}" "$@" </dev/null >"$work/server.out" 2>"$work/server.err" &
	srvpid=$!
	local i=0
	while [ -z "$(ss -Hltn "sport = :$port")" ]; do
		i=$((i + 1))
		if [ $i -gt 500 ] || ! kill -0 "$srvpid" 2>/dev/null; then
			cat "$work/server.err" >&2
			die "$* did not start"
		fi
		sleep 0.01
	done
}

# stop: the server and every program it started (its process group).
stop() {
	kill -TERM -- "-$srvpid" 2>/dev/null || :
	wait "$srvpid" 2>/dev/null || :
	local i=0
	while kill -0 -- "-$srvpid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then kill -KILL -- "-$srvpid" 2>/dev/null || :; fi
		sleep 0.05
	done
	srvpid=
}

# load SECTION ROW IMPL LOADGEN-ARGS...: one loadgen run against $port; its
# summary goes to the terminal, its JSON line to the results.
load() {
	local label="$1|$2|$3"
	shift 3
	# Bounded: a server that stops answering costs two minutes, not N
	# connection timeouts.
	timeout 120 "$work/loadgen" -addr "127.0.0.1:$port" -label "$label" "$@" >>"$results" 2>"$work/loadgen.err" || :
	sed 's/.* in flight: /    /' "$work/loadgen.err" >&2
}

holdopts=() # -tls for TLS servers
# hold N [HOLDER-ARGS...]: a holder keeping N connections to $port open,
# started and waited for (every handler running), its pid put in holders;
# held_secs is how long opening them took.
nholders=0
hold() {
	nholders=$((nholders + 1))
	local out=$work/holder.$nholders
	"$work/holder" "${holdopts[@]}" -addr "127.0.0.1:$port" -n "$1" -max 5m "${@:2}" >"$out" 2>&1 &
	holders+=($!)
	local i=0
	while [ ! -s "$out" ]; do
		i=$((i + 1))
		[ $i -gt 1200 ] && die "holder: $1 connections not open after 120 s"
		sleep 0.1
	done
	sleep 0.1 # the rest of the line
	grep -q '"errors":0' "$out" || say "    holder: $(cat "$out")"
	held_secs=$(sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p' "$out")
}

# unhold: the holders let go (a batch at a time), and the programs they held
# have all ended before it returns.
unhold() {
	for h in "${holders[@]}"; do
		kill "$h" 2>/dev/null || :
		wait "$h" 2>/dev/null || :
	done
	holders=()
	local i=0
	while [ "$(pgrep -c -g "$srvpid")" -gt 1 ] && [ $i -lt 300 ]; do
		i=$((i + 1))
		sleep 0.1
	done
}

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
# cpu PID: the nanoseconds its threads have run (schedstat's first field).
# Clock ticks (user + system time in /proc/PID/stat) were too coarse: 6 us a
# connection in a run of 1,600, where ours and Debian's differ by 20. Without
# schedstat, those ticks.
hz=$(getconf CLK_TCK)
cpu() {
	local ns
	ns=$(cat "/proc/$1/task/"*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }')
	if [ "${ns:-0}" -gt 0 ]; then
		echo "$ns"
	else
		sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$hz" '{ printf "%.0f\n", ($12 + $13) * 1e9 / hz }'
	fi
}

if has servers; then
	for round in $(seq "$ROUNDS"); do
		for level in $LEVELS; do
			for impl in $SERVERS; do
				step "round $round/$ROUNDS: $impl at $level in flight"
				n=$N
				[ "$level" -ge 40 ] && n=$N40
				start "$impl" 40 "$(backlog_at "$level")" "$work/okprog"
				c0=$(cpu "$srvpid")
				load "Connections per second" "$level in flight" "$impl" -n "$n" -c "$level"
				# The server's own CPU (a fork included, for those that
				# fork), warm-up connections counted.
				emit "Server CPU per connection (us)" "$level in flight" "$impl" \
					"$(awk -v t=$(($(cpu "$srvpid") - c0)) -v n=$((n + 100)) 'BEGIN { printf "%.1f", t / 1e3 / n }')"
				stop
			done
		done
	done
fi

if has load; then
	# Ours only: the rounds above compare the servers at 40 in flight.
	step "load: ours, $LOAD_N connections at 40 in flight"
	start ours 40 - "$work/okprog"
	load "Under load" "40 in flight, $LOAD_N connections" ours -n "$LOAD_N" -c 40
	stop
	for impl in ours debian; do
		step "load: $impl, $BACKLOG_N connections, 200 in flight, -c 40 -b 200"
		start "$impl" 40 200 "$work/okprog"
		load "Under load" "200 in flight, -c 40 -b 200, $BACKLOG_N connections" "$impl" -n "$BACKLOG_N" -c 200
		stop
	done
fi

if has memory; then
	for impl in $servers_only; do
		step "memory: $impl idle, then with 40 sleeping handlers"
		start "$impl" 40 - "$work/okprog" hold
		sleep 0.3
		idle=$(rss "$srvpid")
		hold 40
		sleep 0.3
		emit "Memory and size" "server RSS, idle (kB)" "$impl" "$idle"
		emit "Memory and size" "server RSS, 40 sleeping handlers (kB)" "$impl" "$(rss "$srvpid")"
		emit "Memory and size" "server threads, 40 sleeping handlers" "$impl" "$(threads "$srvpid")"
		unhold
		stop
		# Under load: MEM_N connections at 40 in flight (40 programs in
		# hand, some 2,000 a second here), the RSS sampled every 0.1 s.
		step "memory: $impl under load, $MEM_N connections at 40 in flight"
		start "$impl" 40 - "$work/okprog"
		sleep 0.3
		: >"$work/rss"
		timeout 120 "$work/loadgen" -addr "127.0.0.1:$port" -n "$MEM_N" -c 40 >/dev/null 2>&1 &
		lg=$!
		while kill -0 "$lg" 2>/dev/null; do
			# VmRSS, and its anonymous (private) and file-backed (the
			# binary's and libraries' pages, shared) parts
			awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s ", $2 } END { print "" }' "/proc/$srvpid/status" >>"$work/rss" || :
			sleep 0.1
		done
		wait "$lg" || :
		median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
		emit "Memory and size" "server RSS under load, median (kB)" "$impl" "$(awk '{ print $1 }' "$work/rss" | median)"
		emit "Memory and size" "server RSS under load, peak (kB)" "$impl" "$(awk '{ print $1 }' "$work/rss" | sort -n | tail -1)"
		emit "Memory and size" "of which anonymous, median (kB)" "$impl" "$(awk '{ print $2 }' "$work/rss" | median)"
		emit "Memory and size" "of which file-backed, median (kB)" "$impl" "$(awk '{ print $3 }' "$work/rss" | median)"
		stop
	done
	size() { emit "Memory and size" "binary size (kB)" "$1" "$(($(stat -L -c %s "$2") / 1024))"; }
	size ours "$ucspi"
	size debian "$REF_DIR/tcpserver"
	case " $SERVERS " in *" tcpsvd "*) size tcpsvd "$(command -v tcpsvd)" ;; esac
	case " $SERVERS " in *" busybox "*) size busybox "$(command -v busybox)" ;; esac
fi

if has stream; then
	step "stream: addcr and delcr on $STREAM_MB MB, ours and Debian's alternately, $STREAM_ROUNDS rounds"
	BENCH_MB=$STREAM_MB BENCH_ROUNDS=$STREAM_ROUNDS UCSPI_REF_DIR=$REF_DIR \
		timeout $((120 + STREAM_MB * STREAM_ROUNDS / 5)) scripts/bench-stream.sh "$ucspi" >"$work/stream.out" || die "bench-stream.sh failed"
	sed 's/^/    /' "$work/stream.out" >&2
	# "addcr: ours 812 MB/s, debian 400 MB/s, ratio 2.03x; max RSS ours 1234 kB, debian 100 kB (...)"
	sed -n 's/^\([a-z]*\): ours \([0-9.]*\) MB\/s, debian \([0-9.]*\) MB\/s.*max RSS ours \([0-9]*\) kB, debian \([0-9]*\) kB.*/\1 \2 \3 \4 \5/p' \
		"$work/stream.out" >"$work/stream.fields"
	[ -s "$work/stream.fields" ] || say "bench: bench-stream.sh's output is not what this script reads"
	while read -r tool ours ref ours_rss ref_rss; do
		emit "Streams and rules" "$tool (MB/s)" ours "$ours"
		emit "Streams and rules" "$tool (MB/s)" debian "$ref"
		emit "Streams and rules" "$tool max RSS (kB)" ours "$ours_rss"
		emit "Streams and rules" "$tool max RSS (kB)" debian "$ref_rss"
	done <"$work/stream.fields"
fi

if has rules; then
	# Rules as a large site has them: single addresses with variables,
	# prefixes, address ranges, hostnames and ident users, then a default.
	awk -v n="$RULES_LINES" 'BEGIN {
		for (i = 0; i < n; i++) {
			a = 10 + int(i / 65536); b = int(i / 256) % 256; c = i % 256
			r = i % 10
			if (r < 6) printf "%d.%d.%d.%d:allow,RELAYCLIENT=\"\",RULE=\"%d\"\n", a, b, c, (i * 31) % 256, i
			else if (r < 8) printf "172.%d.%d.:deny\n", b, c
			else if (r < 9) printf "=host%d.example.com:allow,HOST=\"%d\"\n", i, i
			else printf "user%d@192.168.%d.%d-%d:allow\n", i, b, c % 200, c % 200 + 3
		}
		print ":deny"
	}' >"$work/rules.txt"
	# Addresses to look up: hits on every kind of rule, and misses.
	awk -v n="$LOOKUPS" -v lines="$RULES_LINES" 'BEGIN {
		srand(88)
		for (k = 0; k < n; k++) {
			i = int(rand() * lines); a = 10 + int(i / 65536); b = int(i / 256) % 256; c = i % 256
			if (k % 3 == 0) print a "." b "." c "." (i * 31) % 256
			else if (k % 3 == 1) print "172." b "." c ".9"
			else print "203.0." b "." c
		}
	}' >"$work/lookups.txt"
	for round in $(seq "$RULES_ROUNDS"); do
		for impl in ours debian; do
			prog=$work/tcprules
			[ $impl = debian ] && prog=$REF_DIR/tcprules
			step "rules round $round/$RULES_ROUNDS: $impl tcprules compiling $RULES_LINES lines"
			t0=$EPOCHREALTIME
			timeout 60 "$prog" "$work/$impl.cdb" "$work/$impl.tmp" <"$work/rules.txt"
			t1=$EPOCHREALTIME
			emit "Streams and rules" "tcprules compile (lines/s)" $impl "$(awk -v n="$RULES_LINES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
		done
		cmp -s "$work/ours.cdb" "$work/debian.cdb" || say "bench: warning: our rules cdb differs from Debian's"
		for impl in ours debian; do
			prog=$work/tcprulescheck
			[ $impl = debian ] && prog=$REF_DIR/tcprulescheck
			step "rules round $round/$RULES_ROUNDS: $impl tcprulescheck, $LOOKUPS lookups"
			t0=$EPOCHREALTIME
			while read -r ip; do
				TCPREMOTEIP=$ip "$prog" "$work/debian.cdb" >/dev/null
			done <"$work/lookups.txt"
			t1=$EPOCHREALTIME
			emit "Streams and rules" "tcprulescheck (lookups/s, a process each)" $impl "$(awk -v n="$LOOKUPS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
		done
	done
fi

if has scale; then
	set -- $HOLD
	most=${!#}
	limit=$((most + 100))
	sec="Scale: the server holding connections (-c $limit)"
	ontop="Scale: connections/s accepted on top (8 in flight)"
	for impl in ours debian; do
		declare -A f=()
		step "scale: $impl -c $limit, nothing held yet"
		start "$impl" "$limit" 256 "$work/okprog" hold
		sleep 0.3
		levels=(0)
		# Each level's figures come after its connections on top, so that
		# the growth from one level to the next is the held connections'.
		load "$ontop" "0 held" "$impl" -n "$ONTOP" -c 8
		f[rss,0]=$(rss "$srvpid") f[threads,0]=$(threads "$srvpid") f[fds,0]=$(fds "$srvpid")
		held=0
		for n in $HOLD; do
			step "scale: $impl, holding $n connections"
			c0=$(cpu "$srvpid")
			hold $((n - held))
			c1=$(cpu "$srvpid")
			f[rate,$n]=$(awk -v n=$((n - held)) -v t="$held_secs" 'BEGIN { printf "%.0f", n / t }')
			f[cpu,$n]=$(awk -v n=$((n - held)) -v t=$((c1 - c0)) 'BEGIN { printf "%.1f", t / 1e3 / n }')
			sleep 0.5
			c0=$(cpu "$srvpid")
			sleep 1
			f[idle,$n]=$((($(cpu "$srvpid") - c0) / 1000000))
			load "$ontop" "$n held" "$impl" -n "$ONTOP" -c 8
			f[rss,$n]=$(rss "$srvpid") f[threads,$n]=$(threads "$srvpid") f[fds,$n]=$(fds "$srvpid")
			f[growth,$n]=$(((f[rss,$n] - f[rss,${levels[-1]}]) * 1024 / (n - held)))
			f[from,$n]=${levels[-1]}
			levels+=("$n")
			held=$n
		done
		step "scale: $impl, letting $held connections go"
		unhold
		stop
		for n in "${levels[@]}"; do emit "$sec" "server RSS (kB), $n held" "$impl" "${f[rss,$n]}"; done
		for n in $HOLD; do
			emit "$sec" "RSS growth per held connection (bytes), ${f[from,$n]} to $n held" "$impl" "${f[growth,$n]}"
		done
		for n in "${levels[@]}"; do emit "$sec" "threads, $n held" "$impl" "${f[threads,$n]}"; done
		for n in "${levels[@]}"; do emit "$sec" "open descriptors, $n held" "$impl" "${f[fds,$n]}"; done
		for n in $HOLD; do
			emit "$sec" "server CPU per connection accepted (us), ${f[from,$n]} to $n held" "$impl" "${f[cpu,$n]}"
		done
		for n in $HOLD; do emit "$sec" "accepted/s, ${f[from,$n]} to $n held" "$impl" "${f[rate,$n]}"; done
		for n in $HOLD; do emit "$sec" "server CPU while idle with $n held (ms per s)" "$impl" "${f[idle,$n]}"; done
		unset f
	done
fi

if has chains; then
	# The chains' programs: ours are links to the binary measured (tcpserver
	# recognises them as itself), Debian's are where the package put them.
	mkdir "$work/ours-bin"
	for a in argv0 rblsmtpd; do ln -s "$ucspi" "$work/ours-bin/$a"; done
	"$work/dnsd" '2.0.0.127.bl.bench. TXT "listed"' '1.0.0.127.in-addr.arpa. PTR localhost.' \
		'localhost. A 127.0.0.1' >"$work/dnsd.out" 2>&1 &
	dnspid=$!
	holders+=("$dnspid") # killed on the way out with the holders
	i=0
	while [ ! -s "$work/dnsd.out" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && die "dnsd did not start: $(cat "$work/dnsd.out")"
		sleep 0.05
	done
	dnsip=$(head -1 "$work/dnsd.out")
	printf '127.:allow,RELAYCLIENT=""\n:allow\n' | "$work/tcprules" "$work/chain.cdb" "$work/chain.tmp"
	# chain NAME IMPL: the tcpserver options, environment and program of one chain.
	chain() {
		local bin=$work/ours-bin
		[ "$2" = debian ] && bin=$REF_DIR
		srvopts=(-R -H -l0)
		srvenv=("DNSCACHEIP=$dnsip")
		case $1 in
		argv0) prog=("$bin/argv0" "$work/okprog" okprog) ;;
		"rblsmtpd, RBLSMTPD empty") srvenv+=(RBLSMTPD=) prog=("$bin/rblsmtpd" -r bl.bench "$work/okprog") ;;
		"rblsmtpd, not listed") prog=("$bin/rblsmtpd" -r bl.bench "$work/okprog") ;;
		"qmail-like: -h -x rules, rblsmtpd") srvopts=(-R -h -l0 -x "$work/chain.cdb") prog=("$bin/rblsmtpd" -r bl.bench "$work/okprog") ;;
		"-h -p: a reverse and a forward lookup") srvopts=(-R -h -p -l0) prog=("$work/okprog") ;;
		esac
	}
	for round in $(seq "$CHAIN_ROUNDS"); do
		for level in 1 8; do
			for name in argv0 "rblsmtpd, RBLSMTPD empty" "rblsmtpd, not listed" "qmail-like: -h -x rules, rblsmtpd" "-h -p: a reverse and a forward lookup"; do
				for impl in ours debian; do
					step "chains round $round/$CHAIN_ROUNDS: $impl, $name, $level in flight"
					chain "$name" "$impl"
					start "$impl" 40 - "${prog[@]}"
					load "Chains: connections per second" "$name, $level in flight" "$impl" -n "$CHAIN_N" -c "$level"
					stop
				done
			done
		done
	done
	# The flood: listed clients (127.0.0.2) rejected at once (-t 0) beside
	# unlisted ones (127.0.0.1), 100 in flight each, against -c 40.
	for impl in ours debian; do
		step "chains: $impl under a spam flood, 100 listed and 100 unlisted clients in flight, -c 40"
		chain "rblsmtpd, not listed" "$impl"
		start "$impl" 40 200 "${prog[0]}" -t 0 "${prog[@]:1}"
		timeout 120 "$work/loadgen" -addr "127.0.0.1:$port" -from 127.0.0.2 -expect - -n "$FLOOD_N" -c 100 \
			-label "Spam flood (-c 40)|listed clients, 100 in flight|$impl" >>"$results" 2>/dev/null &
		listed=$!
		load "Spam flood (-c 40)" "unlisted clients, 100 in flight beside them" "$impl" -from 127.0.0.1 -n "$FLOOD_N" -c 100
		wait "$listed" || :
		stop
	done
	srvopts=(-R -H -l0)
	srvenv=()
fi

if has startup; then
	step "startup: argv0 /bin/true true, $STARTUP_N times each, in $ROUNDS interleaved rounds"
	ln -s "$ucspi" "$work/argv0"
	make -s bin/ucspi
	mkdir "$work/make"
	ln -s "$root/bin/ucspi" "$work/make/argv0"
	for round in $(seq "$ROUNDS"); do
		emit "Start-up: argv0 /bin/true true (us per run)" "argv0" ours "$("$work/startup" "$STARTUP_N" "$work/argv0" /bin/true true)"
		emit "Start-up: argv0 /bin/true true (us per run)" "argv0" "make build" "$("$work/startup" "$STARTUP_N" "$work/make/argv0" /bin/true true)"
		emit "Start-up: argv0 /bin/true true (us per run)" "argv0" "Go floor" "$("$work/startup" "$STARTUP_N" "$work/gofloor" /bin/true true)"
		emit "Start-up: argv0 /bin/true true (us per run)" "argv0" "Go floor, our std" "$("$work/startup" "$STARTUP_N" "$work/gofloorstd/gofloor" /bin/true true)"
		emit "Start-up: argv0 /bin/true true (us per run)" "argv0" debian "$("$work/startup" "$STARTUP_N" "$REF_DIR/argv0" /bin/true true)"
	done
fi

if has tls; then
	# Fresh certificates, never committed: ECDSA P-256 and RSA-2048.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
		-keyout "$work/ecdsa.key" -out "$work/ecdsa.pem" 2>/dev/null || die "openssl req failed"
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 \
		-keyout "$work/rsa.key" -out "$work/rsa.pem" 2>/dev/null || die "openssl req failed"
	for k in ecdsa rsa; do cat "$work/$k.key" "$work/$k.pem" >"$work/$k.keycert"; done
	# Our server and stunnel with their defaults, TCP_NODELAY both, and the
	# backlog stunnel listens with (4096: it has no limit like -c 40, so at 40
	# in flight the tcpservers' default backlog of 20 would drop SYNs that
	# stunnel takes). The client reads to the end before closing (tlswrapper
	# cuts the program short when the client's close_notify comes first).
	srvopts=(-R -H -l0)
	tlsload=(-tls -halfclose=false)
	for round in $(seq "$TLS_ROUNDS"); do
		for tlskey in ecdsa rsa; do
			cert="ECDSA P-256"
			[ $tlskey = rsa ] && cert="RSA-2048"
			for level in $TLS_LEVELS; do
				for impl in $tls_servers; do
					step "tls round $round/$TLS_ROUNDS: $impl, $cert, $level in flight"
					server=$impl
					[ $impl = ours ] && server=sslserver
					start "$server" 40 4096 "$work/okprog"
					load "TLS: connections per second, $cert" "$level in flight" "$impl" "${tlsload[@]}" -n "$TLS_N" -c "$level"
					stop
				done
				for impl in $tls12_servers; do
					step "tls round $round/$TLS_ROUNDS: $impl at TLS 1.2, $cert, $level in flight"
					server=$impl
					[ $impl = ours ] && server=sslserver
					start "$server" 40 4096 "$work/okprog"
					load "TLS 1.2: connections per second, $cert" "$level in flight" "$impl" "${tlsload[@]}" -tls12 -n "$TLS_N" -c "$level"
					stop
				done
			done
		done
	done
	tlskey=ecdsa
	for impl in $tls_servers; do
		server=$impl
		[ $impl = ours ] && server=sslserver
		step "tls: $impl, resumed handshakes, and $TLS_MB MB to the client"
		start "$server" 40 4096 "$work/okprog"
		load "TLS: resumed handshakes per second, ECDSA P-256" "8 in flight" "$impl" "${tlsload[@]}" -resume -n "$TLS_N" -c 8
		stop
		head -c $((TLS_MB * 1000000)) /dev/zero >"$work/stream.bin"
		start "$server" 40 4096 /bin/cat "$work/stream.bin"
		timeout 300 "$work/loadgen" -addr "127.0.0.1:$port" "${tlsload[@]}" -expect - -warmup 0 -n 3 -c 1 >"$work/stream.json" 2>/dev/null || :
		mbs=$(sed -n 's/.*"mb_per_s":\([0-9.e+-]*\).*/\1/p' "$work/stream.json")
		[ -n "$mbs" ] && emit "TLS: $TLS_MB MB from the program to the client (MB/s)" "one connection" "$impl" "$mbs"
		stop
		step "tls: $impl, $TLS_HOLD connections held"
		start "$server" $((TLS_HOLD + 100)) 256 "$work/okprog" hold
		sleep 0.3
		pss() { # the PSS of the server's own processes (not okprog), kB
			for p in $(pgrep -g "$srvpid"); do
				[ "$(cat "/proc/$p/comm")" = okprog ] && continue
				awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup"
			done | awk '{ s += $1 } END { print s + 0 }'
		}
		m0=$(pss)
		holdopts=(-tls)
		hold "$TLS_HOLD"
		sleep 0.5
		m1=$(pss)
		emit "TLS: memory, $TLS_HOLD connections held" "server memory per held connection (bytes of PSS)" "$impl" $(((m1 - m0) * 1024 / TLS_HOLD))
		unhold
		holdopts=()
		stop
	done
	# Server CPU per connection: sslserver, plain tcpserver, and the
	# handshake alone in Go (bench/tlsfloor), each over TLS_CPU_N
	# connections at 8 in flight, in TLS_ROUNDS interleaved rounds.
	sec="TLS: server CPU per connection (us), ECDSA P-256"
	for round in $(seq "$TLS_ROUNDS"); do
		declare -A cpus=()
		for impl in ours tcpserver tlsfloor; do
			step "tls round $round/$TLS_ROUNDS: server CPU per connection, $impl"
			server=$impl opts=("${tlsload[@]}")
			case $impl in
			ours) server=sslserver ;;
			tcpserver) server=ours opts=() ;;
			esac
			start "$server" 40 4096 "$work/okprog"
			c0=$(cpu "$srvpid")
			"$work/loadgen" -addr "127.0.0.1:$port" "${opts[@]}" -warmup 0 -n "$TLS_CPU_N" -c 8 >/dev/null 2>&1 || :
			c1=$(cpu "$srvpid")
			stop
			cpus[$impl]=$(awk -v n="$TLS_CPU_N" -v t=$((c1 - c0)) 'BEGIN { printf "%.1f", t / 1e3 / n }')
		done
		emit "$sec" "8 in flight" ours "${cpus[ours]}"
		emit "$sec" "8 in flight" tcpserver "${cpus[tcpserver]}"
		emit "$sec" "8 in flight" "handshake alone" "${cpus[tlsfloor]}"
		emit "$sec" "8 in flight" "ours minus handshake" "$(awk -v a="${cpus[ours]}" -v b="${cpus[tlsfloor]}" 'BEGIN { printf "%.1f", a - b }')"
	done
	srvopts=(-R -H -l0)
fi

# listening PORT COUNT: wait until COUNT sockets listen on PORT.
listening() {
	local i=0
	while [ "$(ss -Hltn "sport = :$1" | wc -l)" -lt "$2" ]; do
		i=$((i + 1))
		[ $i -gt 500 ] && die "nothing listens on $1"
		sleep 0.01
	done
}

if has proxy; then
	hap=$(command -v haproxy || echo /usr/sbin/haproxy)
	if ! [ -x "$hap" ]; then
		say "bench: no haproxy (apt-get install haproxy): the proxy stage is skipped"
	else
		for round in $(seq "$ROUNDS"); do
			for level in 8 40; do
				for impl in ours "ours, PROXY v1" "ours, no PROXY" debian; do
					step "proxy round $round/$ROUNDS: HAProxy in front of $impl, $level in flight"
					server=ours send= srvopts=(-R -H -l0)
					case $impl in
					ours) srvopts+=(--proxy-from 127.0.0.1) send=send-proxy-v2 ;;
					"ours, PROXY v1") srvopts+=(--proxy-from 127.0.0.1) send=send-proxy ;;
					debian) server=debian ;;
					esac
					start "$server" 40 "$(backlog_at "$level")" "$work/okprog"
					backend=$port
					port=$(free_port)
					printf 'global\n    maxconn 1000\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\nfrontend f\n    bind 127.0.0.1:%s\n    default_backend b\nbackend b\n    server s 127.0.0.1:%s %s\n' \
						"$port" "$backend" "$send" >"$work/haproxy.cfg"
					setsid "$hap" -db -f "$work/haproxy.cfg" </dev/null >"$work/haproxy.out" 2>&1 &
					others+=($!)
					listening "$port" 1
					n=$N
					[ "$level" -ge 40 ] && n=$N40
					load "Behind HAProxy: connections per second" "$level in flight" "$impl" -n "$n" -c "$level" -halfclose=false
					kill -TERM -- "-${others[-1]}" 2>/dev/null || :
					wait "${others[-1]}" 2>/dev/null || :
					unset 'others[-1]'
					port=$backend
					stop
				done
			done
		done
		srvopts=(-R -H -l0)
	fi
fi

if has iplimit; then
	printf ':allow\n' | "$work/tcprules" "$work/iplimit.cdb" "$work/iplimit.tmp"
	# limited IMPL: the options of ours with the per-IP record and without.
	limited() {
		srvopts=(-R -H -l0 -x "$work/iplimit.cdb")
		[ "$1" = ours ] && srvopts+=(-C 1000)
		:
	}
	for round in $(seq "$ROUNDS"); do
		for level in 8 40; do
			for impl in ours "ours, -x only"; do
				step "iplimit round $round/$ROUNDS: $impl, $level in flight"
				limited "$impl"
				start ours 40 "$(backlog_at "$level")" "$work/okprog"
				n=$N
				[ "$level" -ge 40 ] && n=$N40
				load "Per-IP limits: connections per second (ours is -C 1000 -x)" "$level in flight" "$impl" -n "$n" -c "$level"
				stop
			done
		done
	done
	sec="Per-IP record (ours is -C 1000 -x)"
	held="$IPREC_HOLD held from $IPREC_SOURCES addresses"
	for impl in ours "ours, -x only"; do
		step "iplimit: $impl holding $IPREC_HOLD connections from $IPREC_SOURCES addresses"
		limited "$impl"
		start ours $((IPREC_HOLD + 100)) 256 "$work/okprog" hold
		sleep 0.3
		rss0=$(rss "$srvpid")
		hold "$IPREC_HOLD" -sources "$IPREC_SOURCES"
		sleep 0.5
		rss1=$(rss "$srvpid")
		emit "$sec" "server RSS (kB), $held" "$impl" "$rss1"
		emit "$sec" "RSS growth per held connection (bytes), $held" "$impl" "$(((rss1 - rss0) * 1024 / IPREC_HOLD))"
		unhold
		stop
	done
	srvopts=(-R -H -l0)
	step "iplimit: BenchmarkIPRecord (10,000 programs from 1,000 addresses)"
	# BenchmarkIPRecord-2  200000  97.50 ns/op  38.26 B/program
	set -- $(go test -run '^$' -bench BenchmarkIPRecord -benchtime 200000x ./ucspi | grep '^BenchmarkIPRecord')
	[ "${6:-}" = B/program ] || die "BenchmarkIPRecord printed $*"
	emit "$sec" "the record per running program (bytes), 10000 from 1000 addresses (BenchmarkIPRecord)" ours "$5"
	emit "$sec" "the record's time per connection (ns, BenchmarkIPRecord)" ours "$3"
fi

if has reuseport; then
	for round in $(seq "$ROUNDS"); do
		for impl in ours "ours, one server"; do
			step "reuseport round $round/$ROUNDS: $impl, 40 in flight"
			srvopts=(-R -H -l0 --reuse-port)
			start ours 40 "$(backlog_at 40)" "$work/okprog"
			if [ "$impl" = ours ]; then
				setsid "$work/tcpserver" "${srvopts[@]}" -c 40 -b "$(backlog_at 40)" 127.0.0.1 "$port" "$work/okprog" </dev/null >/dev/null 2>"$work/second.err" &
				others+=($!)
				listening "$port" 2
			fi
			load "Shared port (--reuse-port): connections per second" "40 in flight" "$impl" -n "$N40" -c 40
			if [ "$impl" = ours ]; then
				kill -TERM -- "-${others[-1]}" 2>/dev/null || :
				wait "${others[-1]}" 2>/dev/null || :
				unset 'others[-1]'
			fi
			stop
		done
	done
	srvopts=(-R -H -l0)
fi

say "[$(($(date +%s) - began))s] done; the report:"
mkdir -p build
cp "$results" build/bench-results.jsonl
config="IPREC_HOLD=$IPREC_HOLD IPREC_SOURCES=$IPREC_SOURCES TLS_ROUNDS=$TLS_ROUNDS TLS_N=$TLS_N TLS_LEVELS='$TLS_LEVELS' TLS_MB=$TLS_MB TLS_HOLD=$TLS_HOLD TLS_CPU_N=$TLS_CPU_N CHAIN_ROUNDS=$CHAIN_ROUNDS CHAIN_N=$CHAIN_N FLOOD_N=$FLOOD_N STARTUP_N=$STARTUP_N ROUNDS=$ROUNDS N=$N N40=$N40 BACKLOG40=$BACKLOG40 LEVELS='$LEVELS' SERVERS='$SERVERS' LOAD_N=$LOAD_N BACKLOG_N=$BACKLOG_N MEM_N=$MEM_N STREAM_MB=$STREAM_MB STREAM_ROUNDS=$STREAM_ROUNDS RULES_LINES=$RULES_LINES RULES_ROUNDS=$RULES_ROUNDS LOOKUPS=$LOOKUPS HOLD='$HOLD' ONTOP=$ONTOP"
"$work/report" -out "$OUT_MD" -readme "$README" -config "$config" -load "$load0" \
	-took "$(($(date +%s) - began))s" -version "$(git describe --always --dirty 2>/dev/null || echo unknown)" \
	"$results"
