package applets

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/applets/internal/passwd"
	"github.com/ucspi-go/ucspi/ucspi"
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
	Choice(fs, &s.PrintPort, true, "print-port", "1", "print the local port on standard output once listening")
	Choice(fs, &s.IPv4Only, true, "ipv4", "4", "IPv4 only")
	Choice(fs, &s.Force6, true, "ipv6-view", "6",
		"listen on IPv6 too when host is 0, and show IPv4 peers in the IPv6 view (PROTO=TCP6, IPv4-mapped addresses)")
	Choice(fs, &s.AllowNoRules, true, "allow-no-rules", "X", "a missing rules.cdb allows every connection")
	fs.StringVarP(&s.Rules, "rules", "x", "", "follow the rules in `rules.cdb`, read again for each connection")
	fs.StringVarP(&s.Banner, "banner", "B", "", "write `banner` to each connection first")
	fs.VarP(localName{&s.LocalHost}, "local-name", "l", "use `localname` for TCPLOCALHOST instead of looking it up")
	fs.StringVarP(&s.Interface, "interface", "I", "", "the `interface` of a link-local IPv6 address")
	Number(fs, &s.Limit, 40, math.MaxUint64, "limit", "c", "run at most `limit` programs at once")
	Number(fs, &s.Backlog, 20, math.MaxUint32, "backlog", "b", "the kernel's `backlog` of connections not yet accepted")
	Number(fs, &s.Timeout, 26, math.MaxUint64, "timeout", "t", "give up on TCPREMOTEINFO after `timeout` seconds")
	fs.VarP(userID{&s.UID}, "uid", "u", "switch to user `uid` once listening: a number, or a name from /etc/passwd")
	fs.VarP(groupID{&s.GID}, "gid", "g", "switch to group `gid` once listening: a number, or a name from /etc/group")
	fs.VarPF(envIDs{&s.UID, &s.GID}, "env-ids", "U", "take -u and -g from $UID and $GID, where set").NoOptDefVal = "true"
	backlog := fs.Lookup("backlog")
	backlog.Value = given{backlog.Value, &s.BacklogGiven}
	fs.VarP(ipLimit{&s.IPLimit, &s.IPLimitMessage}, "ip-limit", "C", "`n[:message]`: at most n programs at once per client address; the others are sent message and closed")
	fs.Var(proxyFrom{&s.ProxyFrom}, "proxy-from", "trust the balancers in `CIDR[,CIDR...]`: read the client from their PROXY header (v1, v2); drop other peers")
	Number(fs, &s.ProxyTimeout, 10, math.MaxUint64, "proxy-timeout", "", "give up on a PROXY header after `n` seconds")
	fs.Var(listenFD{&s.ListenFD}, "listen-fd", "serve the listening socket on descriptor `n` (no host and port operands)")
	Choice(fs, &s.Systemd, true, "systemd", "", "serve the socket systemd passed (LISTEN_PID, LISTEN_FDS=1, descriptor 3)")
	Choice(fs, &s.ReusePort, true, "reuse-port", "", "set SO_REUSEPORT, so that several servers share the port")
	return serverRunner(fs, s, "tcpserver")
}

// serverRunner is how tcpserver and sslserver run once their options are
// read: with fusion (docs/tcpserver.md) unless --no-fusion, and with -q's
// silence.
func serverRunner(fs *pflag.FlagSet, s *ucspi.Server, name string) Runner {
	noFusion := fs.Bool("no-fusion", false, "start argv0 and rblsmtpd as processes even where "+name+" can do their work itself")
	return func(_ *Stdio, operands []string) error {
		if !*noFusion {
			s.Fuse = Fuse
		}
		err := s.Run(operands)
		if s.Verbosity == 0 {
			return quiet(err)
		}
		return err
	}
}

// given records that an option was given, whatever its value.
type given struct {
	pflag.Value
	set *bool
}

func (g given) Set(v string) error {
	if err := g.Value.Set(v); err != nil {
		return err
	}
	*g.set = true
	return nil
}

// ipLimit is -C n[:message], n from 1 up; the message is sent to a client
// over its limit.
type ipLimit struct {
	n       *uint64
	message **string
}

func (l ipLimit) String() string { return "" }
func (l ipLimit) Type() string   { return "n[:message]" }
func (l ipLimit) Set(v string) error {
	num, msg, hasMsg := strings.Cut(v, ":")
	n, err := parseNumber(num, math.MaxUint64)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("0 programs would refuse everyone")
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
				return fmt.Errorf("not an address or a CIDR prefix: %s", f)
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

// listenFD is --listen-fd n: a descriptor number.
type listenFD struct{ target **int }

func (l listenFD) String() string { return "" }
func (l listenFD) Type() string   { return "n" }
func (l listenFD) Set(v string) error {
	n, err := parseNumber(v, 1<<30)
	if err != nil {
		return err
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

// maxID is the largest user or group id: uid_t and gid_t are 32 bits, and the
// system calls read all 32 set, (uid_t)-1, as "leave the id alone".
const maxID = math.MaxUint32 - 1

// userID is -u: a number, else a user name. 0.88 read "-u qmaild" as user 0
// and kept running as root; that is now a usage error unless qmaild is a user.
type userID struct{ target *uint64 }

func (u userID) String() string     { return "" }
func (u userID) Type() string       { return "uid" }
func (u userID) Set(s string) error { return setID(u.target, s, "user", passwd.UserID) }

// groupID is -g: a number, else a group name.
type groupID struct{ target *uint64 }

func (g groupID) String() string     { return "" }
func (g groupID) Type() string       { return "gid" }
func (g groupID) Set(s string) error { return setID(g.target, s, "group", passwd.GroupID) }

// setID stores s's id: its value when s is a number (even if a user has a
// name made of digits, as numbers are what 0.88 took), else the id of the
// user or group called s.
func setID(target *uint64, s, what string, byName func(string) (uint32, error)) error {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		v, err := parseNumber(s, maxID)
		if err != nil {
			return err
		}
		*target = v
		return nil
	}
	id, err := byName(s)
	if errors.Is(err, passwd.ErrNotFound) {
		return fmt.Errorf("no such %s: %s", what, s)
	}
	if err != nil {
		return fmt.Errorf("unable to look up %s %s: %v", what, s, err)
	}
	*target = uint64(id)
	return nil
}

// envIDs is -U: $UID and $GID, when set, read as -u and -g read their
// arguments, at the point -U stands among the options (a later -u still wins).
type envIDs struct{ uid, gid *uint64 }

func (e envIDs) String() string { return "" }
func (e envIDs) Type() string   { return "bool" }
func (e envIDs) Set(string) error {
	if x, ok := os.LookupEnv("UID"); ok {
		if err := setID(e.uid, x, "user", passwd.UserID); err != nil {
			return fmt.Errorf("$UID: %w", err)
		}
	}
	if x, ok := os.LookupEnv("GID"); ok {
		if err := setID(e.gid, x, "group", passwd.GroupID); err != nil {
			return fmt.Errorf("$GID: %w", err)
		}
	}
	return nil
}

var tcpserverManual = Manual{
	Description: `tcpserver waits for TCP connections to host and port. For each connection it
runs program with the given arguments, its descriptor 0 reading from the
network and its descriptor 1 writing to the network (an ordinary blocking
socket); its descriptor 2 is tcpserver's own standard error. Before running
program it sets the UCSPI environment variables describing the connection (see
ENVIRONMENT).

host 0, 0.0.0.0 or the empty string accepts connections to every local IPv4
address, exactly as under 0.88. :: accepts connections to every local address,
IPv4 and IPv6 alike (so does 0 with -6); an IPv4 peer then sees what 0.88 showed
it, plus the TCP6* copies of the variables with IPv4-mapped addresses. host may
also be an IPv4 address, an IPv6 address (::1, bracketed or not), or a name,
looked up in the DNS (its IPv4 address first). port is a number from 0 to 65535,
0 for any free port, or a name from /etc/services.

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
the RFC 1413 TCPREMOTEINFO query on and off; -t bounds it.

Once it is listening, tcpserver switches to the group and user of -g and -u (a
number, or a name looked up in /etc/passwd and /etc/group), prints the port
with -1, and lets go of its standard input and output: both become /dev/null,
so that whatever fed or read it (a pipe from a supervisor) does not wait on the
server, and no connection can land on descriptor 0 or 1. Its standard error
stays, for its messages and the programs' descriptor 2.

Behind a balancer (docs/scale-out.md): --proxy-from CIDR[,CIDR...] (repeatable)
names the balancers. A connection from one of them must begin with a PROXY
protocol header, version 1 or 2, read before anything else (the banner, DNS,
ident, rules) and not a byte further; a connection from any other peer is
dropped at once. The client the header names replaces the socket's addresses
everywhere: the TCP* and TCP6* variables, TCPREMOTEHOST, the rules, the per-IP
counts and the log lines; TCPREMOTEINFO is not asked for. A LOCAL or UNKNOWN
header (health checks) keeps the socket's addresses. A header that is bad, or
does not arrive within --proxy-timeout seconds (default 10), drops its
connection with a warning. No rule can make a peer a balancer.

-C n[:message] (--ip-limit) runs at most n programs at once for one client
address; the connection over the limit is sent message and CRLF, if given, and
closed. A rule's MAXCONIP or MAXCONNIP (the smaller of the two) takes the place
of -C for the addresses it matches, MAXCONNC limits a whole IPv4 /24 or IPv6
/64, DIEMSG replaces the message; where neither a rule nor -C says, the same
variables in tcpserver's own environment do. 0 refuses every connection; a
value that is not a number is ignored. A place is given back when its program
ends. -v logs "limit 0 IP COUNT/MAX WHICH" after the deny line.

--listen-fd n serves the listening TCP socket on descriptor n, and --systemd
the one systemd passes (descriptor 3, when LISTEN_PID is tcpserver's pid and
LISTEN_FDS is 1, as with Accept=no); host and port are then left out of the
command line, -b listens again with its backlog, and -4, -I and --reuse-port
are usage errors. --reuse-port sets SO_REUSEPORT, so that several tcpservers
can share a port, the kernel spreading connections over them; each keeps its
own -c.

Messages go to standard error: -q prints none, -Q (default) errors and
warnings, -v also "status: N/LIMIT", "pid P from IP", "ok P ..." or "deny P
...", and "end P status WSTAT" for each connection, in 0.88's formats. P is the
program's process id; a connection that never gets a program (denied, or
dropped with "warning: dropping connection, ...") is logged with P 0.

SIGTERM makes tcpserver exit 0 at once, leaving the programs running.`,
	Environment: `For each connection program gets tcpserver's environment, without the connection variables (PROTO, TCP*, TCP6*) it inherited, plus: PROTO (TCP, or TCP6 for an IPv6 peer); TCPLOCALIP, TCPLOCALPORT and TCPLOCALHOST, the local end; TCPREMOTEIP, TCPREMOTEPORT, TCPREMOTEHOST and TCPREMOTEINFO, the peer (the last two unset when unknown or not looked up); on an IPv6 socket the TCP6* copies of them; behind a trusted balancer (--proxy-from), PROXYREMOTEIP, PROXYREMOTEPORT, PROXYLOCALIP and PROXYLOCALPORT (the balancer's connection), PROXYVERSION (1 or 2) and PROXYCOMMAND (PROXY or LOCAL); where a per-IP limit applies, TCPCONCURRENCY, this address's programs, this one included; and the variables of the rule that allowed the connection, which win. Inherited PROXY* and TCPCONCURRENCY variables are removed as the TCP* ones are, and under --systemd LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.

tcpserver reads $DNSCACHEIP (the DNS servers to ask, separated by dots, else those of /etc/resolv.conf; /etc/hosts is never read), $PATH (to find program), with -U $UID and $GID, with --systemd $LISTEN_PID and $LISTEN_FDS, and $MAXCONIP, $MAXCONNIP, $MAXCONNC and $DIEMSG as the per-IP limits of last resort.`,
	ExitStatus: `0 on SIGTERM. 100 for a usage error: a missing operand, a bad option, an option value that is not a number or is out of range, a -u or -g name not in /etc/passwd or /etc/group, a port above 65535. 111 when it cannot listen ("tcpserver: fatal: unable to bind: address already used", "tcpserver: fatal: descriptor 3 is not a listening TCP socket", "tcpserver: fatal: LISTEN_PID is not set: no socket from systemd"), cannot find host's address or port's number, or cannot switch ids.`,
	Examples: `A test server, and a client for it:

  tcpserver -v -RHl0 127.0.0.1 8000 echo hello &
  tcpcat 127.0.0.1 8000

qmail's SMTP service, with rules compiled by tcprules, under multilog:

  tcpserver -v -R -x /etc/tcp.smtp.cdb -c 40 -u qmaild -g nofiles \
    0 smtp /var/qmail/bin/qmail-smtpd 2>&1 | multilog t /var/log/smtpd`,
	SeeAlso: []string{"tcprules", "tcprulescheck", "tcpclient", "rblsmtpd", "argv0", "recordio", "multilog(8)", "supervise(8)"},
}
