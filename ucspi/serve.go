package ucspi

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// serve is one connection's story, in the order of 0.88's child: the socket
// (its options, the banner, its addresses), access (DNS, ident, rules: the
// rule's variables or a denial), the environment, the program. Go cannot fork
// without exec, so this runs in a goroutine of the server and the program is
// forked only at the end; every ending is logged as 0.88's child would have
// been.
func (s *Server) serve(fd int, remote netip.AddrPort, scope uint32) {
	defer s.admitted.done() // every ending lets go of fd
	c, fail := s.accepted(fd, remote)
	if fail != nil {
		s.drop(fd, c.Remote, nil, fail)
		return
	}
	ruleVars, denied, fail := s.access(c)
	if c.Proxy != nil && c.Proxy.Carried() {
		scope = 0 // the socket's scope is no part of the client's address
	}
	switch {
	case fail != nil:
		s.drop(fd, c.Remote, nil, fail)
	case denied:
		s.deny(fd, c)
	case s.TLS != nil:
		s.serveTLS(fd, c, scope, ruleVars)
	default:
		env := environments.Get().(*[]string)
		*env = s.environ(*env, c, scope, ruleVars)
		s.spawn(fd, c, *env)
		clear(*env)
		*env = (*env)[:0]
		environments.Put(env)
	}
}

// environments keep the programs' environments from one connection to the
// next: the server's whole environment, made anew for each connection, was
// half of the garbage tcpserver makes. The spawn has copied it by the time it
// returns.
var environments = sync.Pool{New: func() any { return new([]string) }}

// failure is why a connection was dropped before its program ran, as 0.88's
// warning words it: what failed, then the system's reason.
type failure struct {
	what string
	err  error
}

// accepted readies the socket as 0.88's child does before anything else: IP
// options, TCP_NODELAY, the banner. It returns the connection's addresses
// (as far as known when it fails), which a trusted balancer's PROXY header,
// read before the banner, replaces with its client's (proxied.go).
func (s *Server) accepted(fd int, remote netip.AddrPort) (*Description, *failure) {
	c := &Description{Remote: remote, TCP6Vars: s.tcp6Vars, Force6: s.Force6}
	if s.KillOptions && remote.Addr().Unmap().Is4() {
		killIPOptions(fd)
	}
	if s.NoDelay {
		setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	var err error
	if c.Local, err = s.listener.localAddr(fd); err != nil {
		return c, &failure{"unable to get local address: ", err}
	}
	if s.ProxyFrom != nil {
		if fail := s.proxied(fd, c); fail != nil {
			return c, fail
		}
	}
	if s.Banner != "" {
		if err := sendAll(fd, s.Banner); err != nil {
			return c, &failure{"unable to print banner: ", err}
		}
	}
	return c, nil
}

// environ is the program's environment: ours, the connection's variables,
// TCP6INTERFACE for a link-local peer, then the rule's, later ones winning.
// In the common case it is appended to dst.
func (s *Server) environ(dst []string, c *Description, scope uint32, ruleVars []string) []string {
	vars := c.Vars()
	iface, linkLocal := s.interfaceVar(c, scope)
	if !linkLocal && len(ruleVars) == 0 {
		// The common case, on every connection: s.env holds none of the
		// connection's variables (prepareSpawn took them out), so nothing
		// needs replacing and no lookup tables need building.
		return append(append(dst, s.env...), vars...)
	}
	if linkLocal {
		vars = append(vars, iface)
	}
	return Environment(s.env, append(vars, ruleVars...))
}

// connVars are the connection's variables, with TCP6INTERFACE for a
// link-local peer.
func (s *Server) connVars(c *Description, scope uint32) []string {
	vars := c.Vars()
	if iface, ok := s.interfaceVar(c, scope); ok {
		vars = append(vars, iface)
	}
	return vars
}

// interfaceVar is TCP6INTERFACE for a link-local peer, as ucspi-tcp-ipv6 sets
// it; ok is false for any other peer.
func (s *Server) interfaceVar(c *Description, scope uint32) (string, bool) {
	if scope == 0 || !c.Remote.Addr().IsLinkLocalUnicast() {
		return "", false
	}
	ifi, err := whenDescriptors(func() (*net.Interface, error) { return net.InterfaceByIndex(int(scope)) })
	if err != nil {
		return "", false
	}
	return "TCP6INTERFACE=" + ifi.Name, true
}

// deny ends a connection its rule denies, as 0.88's child does with exit 100.
// The lines go out before the connection closes, as the child's did.
func (s *Server) deny(fd int, c *Description) {
	var b []byte
	if s.log.verbose() {
		b = s.log.appendFrom(b, 0, s.remoteText(c.Remote))
		b = s.log.appendVerdict(b, "deny", 0, c)
	}
	b = s.refuse(fd, c, b) // over a per-IP limit
	s.kids.drop(b, deniedStatus)
	closeFD(fd)
}

// drop ends a connection that failed before its program ran, with 0.88's
// warning; c is the connection as far as known, to log its "ok" line when the
// failure came after it.
func (s *Server) drop(fd int, remote netip.AddrPort, c *Description, fail *failure) {
	s.dropped(remote, c, fail)
	closeFD(fd)
}

// dropped logs drop's lines and counts the connection out; the caller closes
// it afterwards.
func (s *Server) dropped(remote netip.AddrPort, c *Description, fail *failure) {
	if c != nil {
		s.kids.ips.cancel(c) // its per-IP place, if it had one
	}
	var b []byte
	if s.log.verbose() {
		b = s.log.appendFrom(b, 0, s.remoteText(remote))
		if c != nil {
			b = s.log.appendVerdict(b, "ok", 0, c)
		}
	}
	if s.log.verbosity >= 1 {
		b = s.log.appendDrop(b, fail.what, fail.err)
	}
	s.kids.drop(b, droppedStatus)
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
