// Package ucspi is the protocol code tcpserver and tcpclient share: what a
// program is told about its connection (the UCSPI environment variables), the
// RFC 1413 lookup behind TCPREMOTEINFO, and the server's listen, accept and spawn.
package ucspi

import (
	"net/netip"
	"strconv"
	"strings"
)

// Description is what the environment tells a program about its TCP
// connection: the addresses of both ends, and what is known of their names and
// of the remote user.
type Description struct {
	Local, Remote netip.AddrPort
	// nil means unknown: the variable is unset, not empty, as under 0.88.
	LocalHost, RemoteHost, RemoteInfo *string
	// TCP6Vars adds the TCP6* variables that ucspi-tcp-ipv6's tcpserver sets,
	// where an IPv4 peer appears as an IPv4-mapped address.
	TCP6Vars bool
	// Force6 is tcpserver -6: the IPv6 view even for an IPv4 peer, PROTO=TCP6
	// and IPv4-mapped addresses in the TCP* variables too.
	Force6 bool
	// TLS is "PROTOCOL:CIPHER" once sslserver's handshake is done, for its
	// -V log line; "" otherwise.
	TLS string
	// Proxy is what a trusted balancer's PROXY header said (tcpserver
	// --proxy-from), for the PROXY* variables; nil without one.
	Proxy *Proxied
	// Concurrency is TCPCONCURRENCY, the programs running for this client
	// address, this one included, where a per-IP limit applies; 0 leaves it
	// unset.
	Concurrency uint64

	// tcpserver's per-IP record (iplimit.go): the place reserved for this
	// connection's program, or why it got none.
	slot    *ipCount
	refused *ipRefusal
}

// Known wraps s as a known value for Description's optional fields.
func Known(s string) *string { return &s }

// IPText is an address as 0.88 and its IPv6 patch print it: a dotted quad for
// IPv4 (mapped or not), the compact form for IPv6.
func IPText(a netip.Addr) string { return a.Unmap().String() }

// Proto is "TCP" for an IPv4 peer and "TCP6" for an IPv6 one.
func (c *Description) Proto() string {
	if !c.Force6 && c.Remote.Addr().Unmap().Is4() {
		return "TCP"
	}
	return "TCP6"
}

// names lists every variable Description may set, so Environment can drop stale
// copies the parent inherited (a TCPREMOTEHOST from an outer tcpserver must not
// leak).
var names = []string{
	"PROTO",
	"TCPLOCALIP", "TCPLOCALPORT", "TCPLOCALHOST",
	"TCPREMOTEIP", "TCPREMOTEPORT", "TCPREMOTEHOST", "TCPREMOTEINFO",
	"TCP6LOCALIP", "TCP6LOCALPORT", "TCP6LOCALHOST",
	"TCP6REMOTEIP", "TCP6REMOTEPORT", "TCP6REMOTEHOST", "TCP6REMOTEINFO",
	"PROXYREMOTEIP", "PROXYREMOTEPORT", "PROXYLOCALIP", "PROXYLOCALPORT", "PROXYVERSION", "PROXYCOMMAND",
	"TCPCONCURRENCY",
}

// Vars returns the connection's variables as "NAME=value", in the order 0.88
// sets them; the unknown ones are left out.
func (c *Description) Vars() []string {
	vars := make([]string, 0, 16)
	add := func(name string, value *string) {
		if value != nil {
			vars = append(vars, name+"="+*value)
		}
	}
	both := func(name string, value, value6 *string) {
		add("TCP"+name, value)
		if c.TCP6Vars {
			add("TCP6"+name, value6)
		}
	}
	six := func(a netip.Addr) *string {
		if a.Is4() {
			a = netip.AddrFrom16(a.As16())
		}
		return Known(a.String())
	}
	ip := func(a netip.Addr) *string {
		if c.Force6 {
			return six(a)
		}
		return Known(IPText(a))
	}
	local, remote := c.Local.Addr(), c.Remote.Addr()
	lport, rport := Known(strconv.Itoa(int(c.Local.Port()))), Known(strconv.Itoa(int(c.Remote.Port())))
	add("PROTO", Known(c.Proto()))
	both("LOCALIP", ip(local), six(local))
	both("LOCALPORT", lport, lport)
	both("LOCALHOST", c.LocalHost, c.LocalHost)
	both("REMOTEIP", ip(remote), six(remote))
	both("REMOTEPORT", rport, rport)
	both("REMOTEHOST", c.RemoteHost, c.RemoteHost)
	both("REMOTEINFO", c.RemoteInfo, c.RemoteInfo)
	if c.Proxy != nil {
		vars = c.Proxy.vars(vars, ip)
	}
	if c.Concurrency > 0 {
		vars = append(vars, "TCPCONCURRENCY="+strconv.FormatUint(c.Concurrency, 10))
	}
	return vars
}

// Environment is base with every variable named in set removed, every
// connection variable removed, then set appended in order; a later entry in set
// overrides an earlier one with the same name.
func Environment(base []string, set []string) []string {
	drop := make(map[string]bool, len(names)+len(set))
	for _, n := range names {
		drop[n] = true
	}
	for _, kv := range set {
		drop[nameOf(kv)] = true
	}
	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		if !drop[nameOf(kv)] {
			env = append(env, kv)
		}
	}
	seen := make(map[string]int, len(set))
	for _, kv := range set {
		if i, ok := seen[nameOf(kv)]; ok {
			env[i] = kv
			continue
		}
		seen[nameOf(kv)] = len(env)
		env = append(env, kv)
	}
	return env
}

func nameOf(kv string) string {
	if i := strings.IndexByte(kv, '='); i >= 0 {
		return kv[:i]
	}
	return kv
}

// LookupEnv is os.LookupEnv on an environment list: the first setting of
// name, as getenv(3) finds it.
func LookupEnv(env []string, name string) (string, bool) {
	for _, kv := range env {
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return kv[len(name)+1:], true
		}
	}
	return "", false
}
