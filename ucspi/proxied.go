package ucspi

import (
	"net/netip"
	"strconv"
	"time"
)

// tcpserver --proxy-from: behind a balancer, the client is the one its PROXY
// header names. This is a step of its own in a connection's story, after the
// socket is readied and before anything is written to it or looked up
// (serve.go): the header replaces the socket's addresses in the Description,
// so that everything after it (DNS, rules, the per-IP count, the log lines,
// the environment) sees the real client without knowing of the balancer.

// Proxied is what a trusted balancer's connection told: its header, and the
// socket's own addresses, which the PROXYREMOTE* and PROXYLOCAL* variables
// keep.
type Proxied struct {
	Header        ProxyHeader
	Remote, Local netip.AddrPort // the balancer's end and ours of the socket
}

// Carried says whether the header's addresses replaced the socket's.
func (p *Proxied) Carried() bool { return p.Header.Source.IsValid() }

// vars adds the PROXY* variables, addresses shown as the TCP* ones are.
func (p *Proxied) vars(vars []string, ip func(netip.Addr) *string) []string {
	return append(vars,
		"PROXYREMOTEIP="+*ip(p.Remote.Addr()),
		"PROXYREMOTEPORT="+strconv.Itoa(int(p.Remote.Port())),
		"PROXYLOCALIP="+*ip(p.Local.Addr()),
		"PROXYLOCALPORT="+strconv.Itoa(int(p.Local.Port())),
		"PROXYVERSION="+strconv.Itoa(p.Header.Version),
		"PROXYCOMMAND="+p.Header.Command)
}

// proxied reads the header of a connection from a trusted balancer and puts
// the client it names in c; a connection from anyone else is dropped before a
// byte is read. No rule can grant trust: the rules are looked up later, for
// the client.
func (s *Server) proxied(fd int, c *Description) *failure {
	peer := c.Remote.Addr().Unmap()
	from := ipText(peer, false)
	if !s.trusts(peer) {
		return &failure{what: from + " is not a trusted proxy"}
	}
	h, err := readProxy(fd, time.Now().Add(s.proxyTimeout()))
	if _, bad := err.(ProxyError); bad {
		return &failure{"bad PROXY header from " + from + ": ", err}
	}
	if err != nil {
		return &failure{"PROXY header from " + from + ": ", err}
	}
	c.Proxy = &Proxied{Header: h, Remote: c.Remote, Local: c.Local}
	if c.Proxy.Carried() {
		c.Remote, c.Local = h.Source, h.Dest
	}
	return nil
}

// trusts says whether ip (IPv4-mapped ones unmapped) is one of --proxy-from's.
func (s *Server) trusts(ip netip.Addr) bool {
	for _, p := range s.ProxyFrom {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) proxyTimeout() time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Second)
	return time.Duration(min(s.ProxyTimeout, most)) * time.Second
}
