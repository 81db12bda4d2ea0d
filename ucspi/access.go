package ucspi

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"slices"
	"time"

	"github.com/ucspi-go/ucspi/cdbrules"
)

// access decides what a connection gets, knowing nothing of accept or spawn:
// it completes c with what the DNS and the peer's ident server say (as far as
// the options ask), then follows the rules, then the per-IP limits. It
// returns the rule's variables, or denied, or the failure that drops the
// connection. Steps that decide on a connection before its program runs
// belong here.
func (s *Server) access(c *Description) (ruleVars []string, denied bool, fail *failure) {
	c.LocalHost = s.LocalHost
	if c.LocalHost == nil {
		c.LocalHost = s.name(c.Local.Addr())
	}
	if s.RemoteHost {
		c.RemoteHost = s.name(c.Remote.Addr())
		if c.RemoteHost != nil && s.Paranoid && !s.mapsBack(*c.RemoteHost, c.Remote.Addr()) {
			c.RemoteHost = nil
		}
	}
	if s.RemoteInfo && (c.Proxy == nil || !c.Proxy.Carried()) { // ident cannot reach a balancer's client
		info, err := whenDescriptors(func() (string, error) { return RemoteInfo(c.Local, c.Remote, s.identTimeout()) })
		if err == nil {
			c.RemoteInfo = &info
		}
	}
	if s.Rules == "" {
		return nil, s.limitIP(c, nil), nil
	}
	d, err := whenDescriptors(func() (cdbrules.Decision, error) { return cdbrules.LookupFile(s.Rules, s.peer(c)) })
	switch {
	case err != nil && s.AllowNoRules && errors.Is(err, fs.ErrNotExist):
		return nil, s.limitIP(c, nil), nil
	case err != nil:
		return nil, false, &failure{"unable to read " + s.Rules + ": ", err}
	case d.Deny:
		return nil, true, nil
	}
	return d.Env, s.limitIP(c, d.Env), nil
}

// peer is the connection as the rules see it: an unknown host or info is left
// out of the search; a known empty one is not, as in 0.88.
func (s *Server) peer(c *Description) cdbrules.Peer {
	p := cdbrules.Peer{IP: cdbrules.CanonicalIP(ipText(c.Remote.Addr(), s.Force6))}
	if c.RemoteHost != nil {
		p.Host, p.HostKnown = *c.RemoteHost, true
	}
	if c.RemoteInfo != nil {
		p.Info, p.InfoKnown = *c.RemoteInfo, true
	}
	return p
}

// name is the first PTR name for ip, nil when there is none or the lookup
// fails, as 0.88 leaves the variable unset then.
func (s *Server) name(ip netip.Addr) *string {
	name, err := whenDescriptors(func() (string, error) { return s.dns.Name(context.Background(), ip) })
	if err == nil && name != "" {
		return &name
	}
	return nil
}

// mapsBack is -p's check: one of name's addresses is ip (asked as dns_ip4
// asks, so a name that reads as an IPv4 literal is compared without a
// question).
func (s *Server) mapsBack(name string, ip netip.Addr) bool {
	lookup := s.dns.IP6
	if ip = ip.Unmap(); ip.Is4() {
		lookup = s.dns.IP4
	}
	addrs, _ := whenDescriptors(func() ([]netip.Addr, error) { return lookup(context.Background(), name) })
	return slices.Contains(addrs, ip)
}

func (s *Server) identTimeout() time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Second)
	return time.Duration(min(s.Timeout, most)) * time.Second
}
