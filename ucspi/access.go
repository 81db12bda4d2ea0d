package ucspi

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"time"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/ucspi/dns"
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
		if info, err := RemoteInfo(c.Local, c.Remote, s.identTimeout()); err == nil {
			c.RemoteInfo = &info
		}
	}
	if s.Rules == "" {
		return nil, s.limitIP(c, nil), nil
	}
	d, err := cdbrules.LookupFile(s.Rules, s.peer(c))
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
	ctx, cancel := context.WithTimeout(context.Background(), dns.Timeout)
	defer cancel()
	if name, err := dns.Name(ctx, s.dns, ip); err == nil && name != "" {
		return &name
	}
	return nil
}

// mapsBack is -p's check: one of name's addresses is ip.
func (s *Server) mapsBack(name string, ip netip.Addr) bool {
	ctx, cancel := context.WithTimeout(context.Background(), dns.Timeout)
	defer cancel()
	ip = ip.Unmap()
	network := "ip6"
	if ip.Is4() {
		network = "ip4"
	}
	addrs, _ := dns.Addrs(ctx, s.dns, network, name)
	for _, a := range addrs {
		if a == ip {
			return true
		}
	}
	return false
}

func (s *Server) identTimeout() time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Second)
	return time.Duration(min(s.Timeout, most)) * time.Second
}
