package ucspi

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/ucspi-go/ucspi/cdbrules"
)

// serve does for one connection what 0.88's child does before it runs the
// program, in the same order: socket options, banner, addresses, DNS, ident,
// rules, environment; then it starts the program on the connection. Go cannot
// fork without exec, so this runs in the server and the program is forked
// only at the end.
func (s *Server) serve(fd int, remote netip.AddrPort, scope uint32) {
	if s.KillOptions && remote.Addr().Unmap().Is4() {
		killIPOptions(fd)
	}
	if s.NoDelay {
		setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}

	if s.Banner != "" {
		if err := sendAll(fd, s.Banner); err != nil {
			s.drop(fd, remote, nil, "unable to print banner: ", err)
			return
		}
	}

	local, err := s.listener.localAddr(fd)
	if err != nil {
		s.drop(fd, remote, nil, "unable to get local address: ", err)
		return
	}
	c := &Conn{Local: local, Remote: remote, LocalHost: s.LocalHost, Six: s.six, Force6: s.Force6}

	if c.LocalHost == nil {
		c.LocalHost = s.name(local.Addr())
	}
	if s.RemoteHost {
		c.RemoteHost = s.name(remote.Addr())
		if c.RemoteHost != nil && s.Paranoid && !s.mapsBack(*c.RemoteHost, remote.Addr()) {
			c.RemoteHost = nil
		}
	}
	if s.RemoteInfo {
		if info, err := RemoteInfo(local, remote, s.identTimeout()); err == nil {
			c.RemoteInfo = &info
		}
	}

	var extra []string
	if scope != 0 && remote.Addr().IsLinkLocalUnicast() {
		if ifi, err := net.InterfaceByIndex(int(scope)); err == nil {
			extra = append(extra, "TCP6INTERFACE="+ifi.Name)
		}
	}
	if s.Rules != "" {
		d, err := s.lookupRules(c)
		switch {
		case err != nil && !(s.AllowNoRules && errors.Is(err, fs.ErrNotExist)):
			s.drop(fd, remote, nil, "unable to read "+s.Rules+": ", err)
			return
		case d.Deny:
			s.deny(fd, c)
			return
		}
		extra = append(extra, d.Env...)
	}

	s.spawn(fd, c, s.environ(c, extra))
}

// lookupRules reads the rules cdb afresh, so that a new tcprules takes effect
// at the next connection, and looks the peer up in it. An unknown host or info
// is left out of the search; a known empty one is not, as in 0.88.
func (s *Server) lookupRules(c *Conn) (cdbrules.Decision, error) {
	r, err := cdbrules.Open(s.Rules)
	if err != nil {
		return cdbrules.Decision{}, err
	}
	defer r.Close()
	p := cdbrules.Peer{IP: cdbrules.CanonicalIP(ipText(c.Remote.Addr(), s.Force6))}
	if c.RemoteHost != nil {
		p.Host, p.HostKnown = *c.RemoteHost, true
	}
	if c.RemoteInfo != nil {
		p.Info, p.InfoKnown = *c.RemoteInfo, true
	}
	m, err := r.Lookup(p, nil)
	return m.Decision(), err
}

// name is the first PTR name for ip, nil when there is none or the lookup
// fails, as 0.88 leaves the variable unset then.
func (s *Server) name(ip netip.Addr) *string {
	if name, err := s.dns.Name(context.Background(), ip); err == nil && name != "" {
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
	addrs, _ := lookup(context.Background(), name)
	return slices.Contains(addrs, ip)
}

func (s *Server) identTimeout() time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Second)
	return time.Duration(min(s.Timeout, most)) * time.Second
}

// environ is the program's environment: ours, the connection's variables, then
// the rule's, later ones winning.
func (s *Server) environ(c *Conn, extra []string) []string {
	vars := c.Vars()
	if len(extra) > 0 {
		return Environment(s.env, append(vars, extra...))
	}
	env := make([]string, 0, len(s.env)+len(vars))
	return append(append(env, s.env...), vars...)
}

// deny ends a connection its rule denies, as 0.88's child does with exit 100.
// The lines go out before the connection closes, as the child's did.
func (s *Server) deny(fd int, c *Conn) {
	var b []byte
	if s.log.verbose() {
		b = appendFrom(b, 0, s.remoteText(c.Remote))
		b = appendVerdict(b, "deny", 0, c)
	}
	s.kids.drop(b, deniedStatus)
	closeFD(fd)
}

// drop ends a connection that failed before its program ran, with 0.88's
// warning; c is the connection as far as known, to log its "ok" line when the
// failure came after it.
func (s *Server) drop(fd int, remote netip.AddrPort, c *Conn, what string, err error) {
	var b []byte
	if s.log.verbose() {
		b = appendFrom(b, 0, s.remoteText(remote))
		if c != nil {
			b = appendVerdict(b, "ok", 0, c)
		}
	}
	if s.log.verbosity >= 1 {
		b = appendDrop(b, what, err)
	}
	s.kids.drop(b, droppedStatus)
	if fd >= 0 {
		closeFD(fd)
	}
}

// sendAll writes all of b to the connection, without SIGPIPE.
func sendAll(fd int, b string) error {
	p := []byte(b)
	for len(p) > 0 {
		n, err := syscall.SendmsgN(fd, p, nil, nil, syscall.MSG_NOSIGNAL)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}
