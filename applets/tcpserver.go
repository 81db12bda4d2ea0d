package applets

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/scan"
)

func init() {
	Register(&Applet{
		Name:    "tcpserver",
		Summary: "accept TCP connections and run a program for each",
		Usage: "tcpserver [ -1UXpPhHrRoOdDqQv ] [ -c limit ] [ -x rules.cdb ] [ -B banner ] " +
			"[ -g gid ] [ -u uid ] [ -b backlog ] [ -l localname ] [ -t timeout ] host port program",
		Setup:  tcpserverSetup,
		Manual: tcpserverManual,
	})
}

func tcpserverSetup(fs *pflag.FlagSet) Runner {
	s := &ucspi.Server{Verbosity: 1, RemoteHost: true, RemoteInfo: true, KillOptions: true}
	Choice(fs, &s.Verbosity, 2, "verbose", "v", "print every status and connection line")
	Choice(fs, &s.Verbosity, 0, "quiet", "q", "print nothing, not even errors")
	Choice(fs, &s.Verbosity, 1, "errors", "Q", "print errors and warnings only (default)")
	Choice(fs, &s.RemoteHost, true, "remote-host", "h", "look up TCPREMOTEHOST in the DNS (default)")
	Choice(fs, &s.RemoteHost, false, "no-remote-host", "H", "do not look up TCPREMOTEHOST")
	Choice(fs, &s.Paranoid, true, "paranoid", "p", "keep TCPREMOTEHOST only if the name maps back to the address")
	Choice(fs, &s.Paranoid, false, "no-paranoid", "P", "trust the reverse lookup (default)")
	Choice(fs, &s.RemoteInfo, true, "remote-info", "r", "ask the peer's ident server for TCPREMOTEINFO (default)")
	Choice(fs, &s.RemoteInfo, false, "no-remote-info", "R", "do not ask for TCPREMOTEINFO")
	Choice(fs, &s.KillOptions, false, "ip-options", "o", "leave IP options alone")
	Choice(fs, &s.KillOptions, true, "kill-ip-options", "O", "kill IP options (default)")
	Choice(fs, &s.NoDelay, false, "delay", "d", "let the kernel delay small writes (default)")
	Choice(fs, &s.NoDelay, true, "no-delay", "D", "set TCP_NODELAY")
	Choice(fs, &s.PrintPort, true, "print-port", "1", "print the local port on stdout once listening")
	Choice(fs, &s.IPv4Only, true, "ipv4", "4", "IPv4 only")
	Choice(fs, &s.Force6, true, "ipv6-view", "6", "show IPv4 peers as IPv4-mapped IPv6 (PROTO=TCP6)")
	Choice(fs, &s.AllowNoRules, true, "allow-no-rules", "X", "a missing rules.cdb allows every connection")
	fs.StringVarP(&s.Rules, "rules", "x", "", "follow the rules in `rules.cdb`, re-read for each connection")
	fs.StringVarP(&s.Banner, "banner", "B", "", "write `banner` to each connection first")
	fs.VarP(localName{&s.LocalHost}, "local-name", "l", "use `localname` for TCPLOCALHOST instead of looking it up")
	fs.StringVarP(&s.Interface, "interface", "I", "", "the `interface` of a link-local IPv6 address")
	Ulong(fs, &s.Limit, 40, "limit", "c", "run at most `limit` programs at once")
	Ulong(fs, &s.Backlog, 20, "backlog", "b", "the kernel's `backlog` of connections not yet accepted")
	Ulong(fs, &s.Timeout, 26, "timeout", "t", "give up on TCPREMOTEINFO after `timeout` seconds")
	Ulong(fs, &s.UID, 0, "uid", "u", "switch to user id `uid` once listening")
	Ulong(fs, &s.GID, 0, "gid", "g", "switch to group id `gid` once listening")
	fs.VarPF(envIDs{&s.UID, &s.GID}, "env-ids", "U", "take the user and group ids from $UID and $GID").NoOptDefVal = "true"
	fs.VarP(ipLimit{&s.IPLimit, &s.IPLimitMessage}, "ip-limit", "C", "`n[:message]`: at most n programs at once per client address; the others are sent message and closed")
	fs.Var(proxyFrom{&s.ProxyFrom}, "proxy-from", "trust the balancers in `CIDR[,CIDR...]`: read the client from their PROXY header (v1, v2); drop other peers")
	Ulong(fs, &s.ProxyTimeout, 10, "proxy-timeout", "", "give up on a PROXY header after `n` seconds")
	fs.Var(listenFD{&s.ListenFD}, "listen-fd", "serve the listening socket on descriptor `n` (no host and port operands)")
	Choice(fs, &s.Systemd, true, "systemd", "", "serve the socket systemd passed (LISTEN_PID, LISTEN_FDS=1, descriptor 3)")
	Choice(fs, &s.ReusePort, true, "reuse-port", "", "set SO_REUSEPORT, so that several servers share the port")
	noFusion := fs.Bool("no-fusion", false, "start argv0 and rblsmtpd as processes even where tcpserver can do their work itself")
	return func(_ *Stdio, operands []string) error {
		if !*noFusion {
			s.Fuse = Fuse
		}
		s.BacklogGiven = fs.Changed("backlog")
		return s.Run(operands)
	}
}

// ipLimit is -C n[:message]: n at least 1, in digits; the message is sent to
// a client over its limit.
type ipLimit struct {
	n       *uint64
	message **string
}

func (l ipLimit) String() string { return "" }
func (l ipLimit) Type() string   { return "n[:message]" }
func (l ipLimit) Set(v string) error {
	num, msg, hasMsg := strings.Cut(v, ":")
	n, digits := scan.Ulong(num)
	if digits == 0 || digits != len(num) || digits > 18 || n == 0 {
		return fmt.Errorf("%q is not a number of programs (1 or more)", num)
	}
	*l.n, *l.message = n, nil
	if hasMsg {
		*l.message = &msg
	}
	return nil
}

// proxyFrom is --proxy-from CIDR[,CIDR...], which may be repeated. A bare
// address is a prefix of its full length; an IPv4-mapped prefix is taken as
// the IPv4 one, since peers are matched with IPv4-mapped addresses unmapped.
type proxyFrom struct{ target *[]netip.Prefix }

func (p proxyFrom) String() string { return "" }
func (p proxyFrom) Type() string   { return "CIDR[,CIDR...]" }
func (p proxyFrom) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		prefix, err := netip.ParsePrefix(f)
		if err != nil {
			ip, err2 := netip.ParseAddr(f)
			if err2 != nil || ip.Zone() != "" {
				return fmt.Errorf("%q is not an address or a CIDR prefix", f)
			}
			prefix = netip.PrefixFrom(ip, ip.BitLen())
		}
		if ip := prefix.Addr(); ip.Is4In6() && prefix.Bits() >= 96 {
			prefix = netip.PrefixFrom(ip.Unmap(), prefix.Bits()-96)
		}
		*p.target = append(*p.target, prefix.Masked())
	}
	return nil
}

// listenFD is --listen-fd n: a descriptor number, in digits.
type listenFD struct{ target **int }

func (l listenFD) String() string { return "" }
func (l listenFD) Type() string   { return "n" }
func (l listenFD) Set(v string) error {
	n, digits := scan.Ulong(v)
	if digits == 0 || digits != len(v) || digits > 10 || n > 1<<30 {
		return fmt.Errorf("%q is not a descriptor number", v)
	}
	fd := int(n)
	*l.target = &fd
	return nil
}

// localName is -l: the name, or as 0.88, any text at all (-l0 is common).
type localName struct{ target **string }

func (l localName) String() string { return "" }
func (l localName) Type() string   { return "string" }
func (l localName) Set(v string) error {
	*l.target = &v
	return nil
}

// envIDs is -U: $UID and $GID, when set, read as -u and -g would read them, at
// the point -U stands among the options (a later -u still wins).
type envIDs struct{ uid, gid *uint64 }

func (e envIDs) String() string { return "" }
func (e envIDs) Type() string   { return "bool" }
func (e envIDs) Set(string) error {
	if x, ok := os.LookupEnv("UID"); ok {
		*e.uid, _ = scan.Ulong(x)
	}
	if x, ok := os.LookupEnv("GID"); ok {
		*e.gid, _ = scan.Ulong(x)
	}
	return nil
}

const tcpserverManual = `tcpserver waits for TCP connections to host and port. For each connection it
runs program with the given arguments, its descriptor 0 reading from the
network and its descriptor 1 writing to the network (an ordinary blocking
socket); its descriptor 2 is tcpserver's own. Before running program it sets the
UCSPI environment variables describing the connection: PROTO (TCP, or TCP6 for
an IPv6 peer), TCPLOCALIP, TCPLOCALPORT, TCPLOCALHOST, TCPREMOTEIP, TCPREMOTEPORT,
TCPREMOTEHOST and TCPREMOTEINFO; a variable whose value is unknown is unset.

host 0 (or the empty string) accepts connections to every local address, IPv4
and IPv6 alike; an IPv4 peer then sees exactly what 0.88 showed it, plus the
TCP6* copies of the variables with IPv4-mapped addresses. host may also be an
IPv4 address (IPv4 only, exactly as 0.88), an IPv6 address (:: ::1, bracketed
or not), or a name, looked up in the DNS (its IPv4 address first). port is a
number, 0 for any free port, or a name from /etc/services.

At most limit programs run at once (-c, default 40); at the limit tcpserver
stops accepting, so that the kernel holds new connections in its backlog,
until a program ends. The server's own descriptors and threads do not grow
with the number of programs running.

-x rules.cdb makes tcpserver follow the rules compiled by tcprules, read again
for each connection: a rule may deny the connection (it is closed without
running program) or add environment variables. With -X a missing rules.cdb
allows every connection. -B banner is written to the connection before the
lookups. -h (default) and -H turn the TCPREMOTEHOST lookup on and off; -p makes
it paranoid (the name must map back to the address). -r (default) and -R turn
the RFC 1413 TCPREMOTEINFO query on and off; -t bounds it (default 26 seconds).
-l localname sets TCPLOCALHOST instead of looking it up. -g gid and -u uid (or
-U, reading $GID and $UID) switch ids once the socket is bound. -1 prints the
port on standard output. tcpserver closes its standard input and output once
listening. -b sets the listen backlog (default 20), -D sets TCP_NODELAY, -o
leaves IP options alone. -4 listens on IPv4 only; -6 shows IPv4 peers in the
IPv6 view (PROTO=TCP6, IPv4-mapped addresses); -I interface binds a link-local
address. DNS lookups go to $DNSCACHEIP when it is set.

Behind a balancer (docs/scale-out.md): --proxy-from CIDR[,CIDR...] (repeatable)
names the balancers. A connection from one of them must begin with a PROXY
protocol header, version 1 or 2, read before anything else (the banner, DNS,
ident, rules) and not a byte further; a connection from any other peer is
dropped at once. The client the header names replaces the socket's addresses
everywhere: TCPREMOTEIP and TCPREMOTEPORT, TCPLOCALIP and TCPLOCALPORT, their
TCP6* copies, TCPREMOTEHOST, the rules, the per-IP counts and the log lines;
TCPREMOTEINFO is not asked for. A LOCAL or UNKNOWN header (health checks)
keeps the socket's addresses. PROXYREMOTEIP, PROXYREMOTEPORT, PROXYLOCALIP and
PROXYLOCALPORT describe the balancer's connection, PROXYVERSION (1 or 2) and
PROXYCOMMAND (PROXY or LOCAL) the header. A header that is bad, or does not
arrive within --proxy-timeout seconds (default 10), drops its connection with
a warning. No rule can make a peer a balancer.

-C n[:message] (--ip-limit) runs at most n programs at once for one client
address; the connection over the limit is sent message and CRLF, if given, and
closed. A rule's MAXCONIP or MAXCONNIP (the smaller of the two) takes the place
of -C for the addresses it matches, MAXCONNC limits a whole IPv4 /24 or IPv6
/64, DIEMSG replaces the message; where neither a rule nor -C says, the same
variables in tcpserver's own environment do. 0 refuses every connection; a
value that is not a number is ignored. A place is given back when its program
ends. Where a limit applies, TCPCONCURRENCY is this address's number of
programs, this one included; -v logs "limit 0 IP COUNT/MAX WHICH".

--listen-fd n serves the listening TCP socket on descriptor n, and --systemd
the one systemd passes (descriptor 3, when LISTEN_PID is tcpserver's pid and
LISTEN_FDS is 1, as with Accept=no); host and port are then left out of the
command line, -b listens again with its backlog, and -4, -I and --reuse-port
are usage errors. The LISTEN_* variables are not passed on. --reuse-port sets
SO_REUSEPORT, so that several tcpservers can share a port, the kernel
spreading connections over them; each keeps its own -c.

Messages go to standard error: -q prints none, -Q (default) errors and
warnings, -v also "status: N/LIMIT", "pid P from IP", "ok P ..." or "deny P
...", and "end P status WSTAT" for each connection, in 0.88's formats. P is the
program's process id; a connection that never gets a program (denied, or
dropped with "warning: dropping connection, ...") is logged with P 0.

SIGTERM makes tcpserver exit 0 at once, leaving the programs running. The exit
status is 100 for a usage error, 111 when it cannot listen (for example
"tcpserver: fatal: unable to bind: address already used", or "tcpserver:
fatal: descriptor 3 is not a listening TCP socket").`
