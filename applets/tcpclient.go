package applets

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/pathexec"
	"github.com/ucspi-go/ucspi/ucspi/scan"
	"github.com/ucspi-go/ucspi/ucspi/startup"
)

func init() {
	Register(&Applet{
		Name:    "tcpclient",
		Summary: "connect to a TCP server and run a program on the connection",
		Usage:   "tcpclient [ -hHrRdDqQv ] [ -i localip ] [ -p localport ] [ -T timeoutconn ] [ -l localname ] [ -t timeoutinfo ] host port program",
		Setup:   tcpclientSetup,
		Manual:  tcpclientManual,
	})
}

// clientOptions are tcpclient's options with 0.88's defaults.
type clientOptions struct {
	name        string // tcpclient or sslclient
	four, six   bool
	verbosity   int
	delay       bool
	remoteHost  bool
	remoteInfo  bool
	localIP     string
	localPort   uint64
	timeout     connTimeout
	localName   *string
	infoTimeout uint64
	iface       string
	proxySend   int // tcpclient --proxy-send: the PROXY header's version, 0 for none
}

func tcpclientSetup(fs *pflag.FlagSet) Runner {
	o := newClientOptions(fs, "tcpclient")
	fs.Var(proxyVersion{&o.proxySend}, "proxy-send", "send a PROXY header of `version` 1 or 2 naming the inherited TCPREMOTEIP/PORT and TCPLOCALIP/PORT")
	return func(s *Stdio, operands []string) error {
		return o.run(s, func(errs io.Writer) error { return tcpclient(o, errs, operands) })
	}
}

// newClientOptions defines tcpclient's options on fs, with 0.88's defaults,
// for tcpclient or sslclient (name).
func newClientOptions(fs *pflag.FlagSet, name string) *clientOptions {
	o := &clientOptions{name: name, verbosity: 1, delay: true, remoteHost: true, remoteInfo: true, timeout: connTimeout{2, 58}}
	vars := strings.ToUpper(name[:3]) // the variables' prefix: TCP or SSL
	Choice(fs, &o.four, true, "ipv4", "4", "use IPv4 only")
	Choice(fs, &o.six, true, "ipv6", "6", "look names up for IPv6 addresses too, and describe IPv4 connections in IPv6 form")
	Choice(fs, &o.delay, true, "delay", "d", "leave the kernel's Nagle delay on (default)")
	Choice(fs, &o.delay, false, "no-delay", "D", "send data at once (TCP_NODELAY)")
	Choice(fs, &o.verbosity, 2, "verbose", "v", "report the connection on stderr")
	Choice(fs, &o.verbosity, 0, "quiet", "q", "print no messages at all")
	Choice(fs, &o.verbosity, 1, "errors", "Q", "print error messages (default)")
	Choice(fs, &o.remoteHost, true, "remote-host", "h", "look up the remote host name for "+vars+"REMOTEHOST (default)")
	Choice(fs, &o.remoteHost, false, "no-remote-host", "H", "do not look up the remote host name")
	Choice(fs, &o.remoteInfo, true, "remote-info", "r", "ask the remote ident server for "+vars+"REMOTEINFO (default)")
	Choice(fs, &o.remoteInfo, false, "no-remote-info", "R", "do not ask for "+vars+"REMOTEINFO")
	fs.StringVarP(&o.localIP, "local-ip", "i", "", "bind the socket to local address `localip`")
	Number(fs, &o.localPort, 0, 65535, "local-port", "p", "bind the socket to local port `localport`")
	fs.VarP(&o.timeout, "timeout-connect", "T", "`timeoutconn` is x+y: try each address for x seconds, then the slow ones again for y (default 2+58)")
	fs.VarP(optionalString{&o.localName}, "local-name", "l", "set "+vars+"LOCALHOST to `localname` instead of looking it up")
	Number(fs, &o.infoTimeout, 26, math.MaxUint64, "timeout-info", "t", "give up on the ident server after `timeoutinfo` seconds")
	fs.StringVarP(&o.iface, "interface", "I", "", "the `interface` of a link-local IPv6 address")
	return o
}

// run runs a client with its messages going to errs, nowhere under -q.
func (o *clientOptions) run(s *Stdio, client func(errs io.Writer) error) error {
	// 0.88 rejects a bad -i while still reading its options, before -q
	// has silenced anything.
	if _, ok := localAddress(o.localIP); !ok && o.localIP != "" {
		return exit.Usage()
	}
	var errs io.Writer = s.Err
	if o.verbosity == 0 {
		errs = io.Discard
	}
	err := client(errs)
	if o.verbosity == 0 {
		return quiet(err)
	}
	return err
}

// tcpclient connects and replaces itself with the program, in 0.88's order.
func tcpclient(o *clientOptions, errs io.Writer, operands []string) error {
	// SIGPIPE caught while we connect (an ident server hanging up is an
	// error, not our death), so that the program gets its default back at
	// exec even if it was ignored: 0.88's sig_ignore, then sig_uncatch.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// The program gets the socket as descriptors 6 and 7: hold them now so
	// that nothing opened meanwhile (DNS sockets, the poller) lands there.
	if err := claimDescriptors(6, 7); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to set up descriptor 6: ")
	}
	c := o.client(errs)
	if len(operands) < 3 {
		return exit.Usage()
	}
	ctx := context.Background()
	conn, err := dial(ctx, c, operands[0], operands[1])
	if err != nil {
		return err
	}
	if o.proxySend != 0 {
		// Before anything else: the server is waiting for it.
		remote, local := ucspi.InheritedConnection(os.Getenv)
		if err := ucspi.SendAll(conn.FD, ucspi.AppendProxy(nil, o.proxySend, remote, local)); err != nil {
			return exit.FatalSys(exit.Temporary, err, "unable to send PROXY header: ")
		}
	}
	if o.verbosity >= 2 {
		fmt.Fprintf(errs, "tcpclient: connected to %s port %d\n", c.RemoteIPText(conn), conn.Remote.Port())
	}
	env := c.Environment(ctx, conn)
	if err := unix.Dup3(conn.FD, 6, 0); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to set up descriptor 6: ")
	}
	if err := unix.Dup3(6, 7, 0); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to set up descriptor 7: ")
	}
	unix.Close(conn.FD)
	if err := ucspi.Blocking(6); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to set up descriptor 6: ")
	}
	program := operands[2:]
	err = pathexec.Run(program[0], program, ucspi.Environment(os.Environ(), env))
	return exit.FatalSys(exit.Temporary, err, "unable to run ", program[0], ": ")
}

// client turns the options into a ucspi.Client.
func (o *clientOptions) client(errs io.Writer) *ucspi.Client {
	c := &ucspi.Client{
		IPv4Only:    o.four,
		Force6:      o.six,
		LocalPort:   uint16(o.localPort),
		Interface:   o.iface,
		Timeout:     o.timeout,
		NoDelay:     !o.delay,
		LocalName:   o.localName,
		RemoteHost:  o.remoteHost,
		RemoteInfo:  o.remoteInfo,
		InfoTimeout: time.Duration(min(o.infoTimeout, 1<<31)) * time.Second,
		Resolver:    dns.New(),
		Warn:        errs,
		Name:        o.name,
	}
	if o.localIP != "" {
		c.Local, _ = localAddress(o.localIP)
	}
	return c
}

// localAddress reads -i's argument: an IPv4 address read as djb's ip4_scan
// reads it (four numbers, each taken modulo 256, anything after them ignored),
// else an IPv6 address.
func localAddress(s string) (netip.Addr, bool) {
	var ip [4]byte
	rest := s
	for i := range 4 {
		if i > 0 {
			if !strings.HasPrefix(rest, ".") {
				goto six
			}
			rest = rest[1:]
		}
		n, digits := scan.Ulong(rest)
		if digits == 0 {
			goto six
		}
		ip[i] = byte(n)
		rest = rest[digits:]
	}
	return netip.AddrFrom4(ip), true
six:
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	return a, true
}

// dial finds host's addresses and port's number and connects, as tcpclient
// does before it runs anything.
func dial(ctx context.Context, c *ucspi.Client, host, port string) (*ucspi.Socket, error) {
	p, err := ucspi.Port(port)
	if err != nil {
		return nil, err
	}
	addrs, err := c.Addrs(ctx, host)
	if err != nil {
		return nil, err
	}
	return c.Connect(addrs, p)
}

// claimDescriptors holds fds for the connection: see holdDescriptors. When
// one of them is already this process's own, opened before main (the Go
// runtime keeps its cgroup files open, and they take 6 and 7 when 3 to 5 are
// inherited open), it must not be replaced: ucspi starts again, in the same
// process, with fds held across the exec, so that the new runtime's files land
// elsewhere. (The old runtime's files are let go just before the exec.)
func claimDescriptors(fds ...int) error {
	if taken, err := holdDescriptors(fds...); !taken || err != nil {
		return err
	}
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	for _, fd := range fds {
		if err := unix.Dup3(null, fd, 0); err != nil {
			return err
		}
	}
	// Through startup, so that the new start records what this one was
	// given (limits, signals, closed descriptors), not what the runtime made
	// of it.
	return startup.Exec("/proc/self/exe", os.Args, os.Environ())
}

// holdDescriptors puts a close-on-exec placeholder on each of fds, closing
// whatever was inherited there, as 0.88's close(6); close(7), so that nothing
// this process opens later can take them. A descriptor that is close-on-exec
// already was not inherited (exec would have closed it): it is this process's
// own and is left alone; taken reports that.
func holdDescriptors(fds ...int) (taken bool, err error) {
	for _, want := range fds {
		if flags, err := unix.FcntlInt(uintptr(want), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC != 0 {
			taken = true
			continue
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return taken, err
		}
		if fd != want {
			err = unix.Dup3(fd, want, unix.O_CLOEXEC)
			unix.Close(fd)
			if err != nil {
				return taken, err
			}
		}
	}
	return taken, nil
}

// connTimeout is -T x+y, read like 0.88: digits, an optional "+", digits; a
// missing number is 0.
type connTimeout [2]uint64

func (t *connTimeout) String() string {
	return strconv.FormatUint(t[0], 10) + "+" + strconv.FormatUint(t[1], 10)
}
func (t *connTimeout) Type() string { return "x+y" }
func (t *connTimeout) Set(s string) error {
	x, digits := scan.Ulong(s)
	s = strings.TrimPrefix(s[digits:], "+")
	y, _ := scan.Ulong(s)
	*t = connTimeout{x, y}
	return nil
}

// proxyVersion is --proxy-send 1 or 2.
type proxyVersion struct{ target *int }

func (p proxyVersion) String() string { return "" }
func (p proxyVersion) Type() string   { return "version" }
func (p proxyVersion) Set(s string) error {
	if s != "1" && s != "2" {
		return fmt.Errorf("not a PROXY protocol version (1 or 2): %s", s)
	}
	*p.target = int(s[0] - '0')
	return nil
}

// optionalString is a string option whose absence is distinct from "".
type optionalString struct{ target **string }

func (o optionalString) String() string {
	if *o.target == nil {
		return ""
	}
	return **o.target
}
func (o optionalString) Type() string { return "name" }
func (o optionalString) Set(s string) error {
	*o.target = &s
	return nil
}

var tcpclientManual = Manual{
	Description: `tcpclient connects to a TCP server on host at port, then runs program with descriptor 6 reading from the network and descriptor 7 writing to it, both blocking. It replaces itself with the program (same process id), so nothing sits between the program and the network. The program's environment describes the connection (see ENVIRONMENT).

host may be a name, a dotted-quad IPv4 address (with or without brackets; "127.000.000.001" is 127.0.0.1), or an IPv6 address (with or without brackets). "0" and the empty string mean the local host, 127.0.0.1 (::1 under -6). A name stands for its IPv4 addresses, in a random order, as djb's DNS library shuffles them; under -6 for its IPv6 addresses, then its IPv4 ones. As in 0.88, a name is first completed by the rules of /etc/dnsrewrite ($DNSREWRITEFILE), else by the domains of $LOCALDOMAIN or resolv.conf's search line (a name without a dot gets each in turn; one trailing dot is removed). port may be a number from 0 to 65535 or a service name from /etc/services.

-T x+y sets the connection timeouts (default 2+58): tcpclient tries each address in turn for x seconds, reporting every address that refuses or fails; then it tries the addresses that timed out again, for y seconds each. A host with one address gets x+y seconds. There is no parallel "happy eyeballs" racing: the addresses are tried strictly one after the other, whatever their family.

-i localip and -p localport bind the socket's local end before connecting. -l localname sets TCPLOCALHOST instead of looking the local address up in the DNS. -h (default) looks the remote address up for TCPREMOTEHOST; -H does not. -r (default) asks the remote host's ident (RFC 1413) server for TCPREMOTEINFO, giving up after -t seconds (default 26); -R does not. -D sets TCP_NODELAY; -d (default) does not. -v reports the connection on stderr, -q prints no messages at all, -Q (default) prints only errors.

Beyond 0.88: -4 uses IPv4 only. -6 behaves as ucspi-tcp-ipv6's tcpclient: "0" is ::1, names stand for their IPv6 and IPv4 addresses, and an IPv4 connection is described in IPv6 form (PROTO=TCP6, TCPREMOTEIP=::ffff:a.b.c.d). Without -6, a connection to an IPv6 address is described with PROTO=TCP6 and IPv6 addresses in the TCP* variables. -I interface names the interface of a link-local IPv6 address. --proxy-send 1 or 2 writes a PROXY protocol header of that version as soon as the connection is made, before the program runs, naming the connection tcpclient's own tcpserver described: $TCPREMOTEIP:$TCPREMOTEPORT as the client and $TCPLOCALIP:$TCPLOCALPORT as the address it reached. If one of them is missing or not an address or port, the header is "PROXY UNKNOWN" (version 1) or LOCAL (version 2).

Messages are 0.88's: "tcpclient: unable to connect to 127.0.0.1 port 16: connection refused" for each address that failed, "tcpclient: fatal: ..." when tcpclient cannot go on.`,
	Environment: `The program gets tcpclient's environment, without the connection variables it inherited, plus those describing the connection as tcpserver would, seen from the client's side: PROTO, TCPLOCALIP, TCPLOCALPORT, TCPLOCALHOST, TCPREMOTEIP, TCPREMOTEPORT, TCPREMOTEHOST, TCPREMOTEINFO (the last two unset when unknown or not looked up).

tcpclient reads $DNSCACHEIP (the DNS servers to ask, separated by dots, else those of /etc/resolv.conf; /etc/hosts is never read), $DNSREWRITEFILE and $LOCALDOMAIN (how host names are completed, as djb's library does) and $PATH (to find program).`,
	ExitStatus: `100 for a usage error, 111 if it cannot connect or cannot run the program; otherwise the program's exit status is tcpclient's, since the program replaces it. A port above 65535 or an option value that is not a number is a usage error.`,
	Examples: `Ask a web server for its front page, by hand:

  tcpclient -RHl0 www.example.com 80 sh -c 'printf "GET / HTTP/1.0\r\n\r\n" >&7; cat <&6'

Talk to a local SMTP server (what mconnect does):

  tcpclient -RHl0 127.0.0.1 25 mconnect-io`,
	SeeAlso: []string{"tcpserver", "mconnect", "tcpcat", "http@"},
}
