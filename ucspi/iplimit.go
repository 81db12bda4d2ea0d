package ucspi

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ucspi-go/ucspi/ucspi/scan"
)

// Per-client limits: -C n[:message], and the rule variables of tcp.smtp files
// written for ucspi-tcp6 (MAXCONIP) or the LIMITS patch (MAXCONNIP, MAXCONNC
// per IPv4 /24 or IPv6 /64, DIEMSG): how many programs one client address, or
// one client network, may run at once. The check is the last step of access,
// and it reserves the place in the same step; the place is the program's
// until the reaper collects that very pid (or the spawn fails), whatever other
// connections came from the address meanwhile.

// ipLimits is the record: a count per client address and per client network,
// and which address each running program counts against. It is kept only
// when a limit may be in play (-C, -x, or a MAXCON* variable in the server's
// environment); nil otherwise, and its methods then do nothing.
type ipLimits struct {
	mu    sync.Mutex
	addrs map[[16]byte]*ipCount
	nets  map[[16]byte]*ipCount
	pids  map[int32]*ipCount // a running program's address count

	// The server's own defaults, after the rule's and -C's.
	ipMax, netMax ipMax
	message       *string
}

// ipCount is how many programs run for one address or network; an address's
// count points at its network's.
type ipCount struct {
	n   uint32
	key [16]byte
	net *ipCount
}

// ipMax is a limit and the option or variable that set it; by is "" for none.
type ipMax struct {
	n  uint64
	by string
}

// ipRefusal is why a connection got no program: its address (or network)
// would have had count programs where max are allowed.
type ipRefusal struct {
	count   uint64
	max     ipMax
	message *string
}

// ipRecord is the record when a limit may be in play: -C, rules (which may
// set the variables), or a limit in the server's environment; else nil.
func (s *Server) ipRecord() *ipLimits {
	l := newIPLimits()
	if s.IPLimit == 0 && s.Rules == "" && l.ipMax.by == "" && l.netMax.by == "" {
		return nil
	}
	return l
}

// newIPLimits reads the server's environment for the defaults that come
// after a rule's and -C's.
func newIPLimits() *ipLimits {
	l := &ipLimits{addrs: map[[16]byte]*ipCount{}, nets: map[[16]byte]*ipCount{}, pids: map[int32]*ipCount{}}
	var env []string
	for _, name := range []string{"MAXCONIP", "MAXCONNIP", "MAXCONNC", "DIEMSG"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	l.ipMax, l.netMax, l.message = limitVars(env)
	return l
}

// limitVars reads MAXCONIP and MAXCONNIP (the smaller wins), MAXCONNC and
// DIEMSG from vars ("NAME=value", a later one overriding). A value that is
// not all digits is no limit.
func limitVars(vars []string) (ip, net ipMax, message *string) {
	var conip, connip ipMax
	for _, kv := range vars {
		name, value, _ := strings.Cut(kv, "=")
		switch name {
		case "MAXCONIP":
			conip = digitsMax(value, name)
		case "MAXCONNIP":
			connip = digitsMax(value, name)
		case "MAXCONNC":
			net = digitsMax(value, name)
		case "DIEMSG":
			message = &value
		}
	}
	ip = conip
	if connip.by != "" && (ip.by == "" || connip.n < ip.n) {
		ip = connip
	}
	return ip, net, message
}

func digitsMax(value, name string) ipMax {
	n, digits := scan.Ulong(value)
	switch {
	case digits == 0 || digits != len(value):
		return ipMax{}
	case digits > 18: // more than can be, and scan_ulong would wrap around
		n = 1<<64 - 1
	}
	return ipMax{n, name}
}

// limitIP is access's last step: the limits that apply to c (a rule's
// variables, else -C, else the server's environment), checked and, when c is
// within them, its place reserved in one step. It returns whether c is
// refused; either way c says so for the spawn or the denial.
func (s *Server) limitIP(c *Description, ruleVars []string) (refused bool) {
	l := s.kids.ips
	if l == nil {
		return false
	}
	ip, net, message := limitVars(ruleVars)
	if ip.by == "" && s.IPLimit > 0 {
		ip = ipMax{s.IPLimit, "-C"}
	}
	if ip.by == "" {
		ip = l.ipMax
	}
	if net.by == "" {
		net = l.netMax
	}
	if message == nil && s.IPLimitMessage != nil {
		message = s.IPLimitMessage
	}
	if message == nil {
		message = l.message
	}
	count, refusal := l.reserve(c.Remote.Addr(), ip, net)
	if refusal != nil {
		refusal.message = message
		c.refused = refusal
		return true
	}
	c.slot = count
	if ip.by != "" || net.by != "" {
		c.Concurrency = uint64(count.n)
	}
	return false
}

// reserve counts a program for addr unless that takes addr past ip or its
// network past net.
func (l *ipLimits) reserve(addr netip.Addr, ip, net ipMax) (*ipCount, *ipRefusal) {
	key := addr.Unmap().As16()
	netKey := key
	if addr.Unmap().Is4() {
		netKey[15] = 0 // the /24
	} else {
		clear(netKey[8:]) // the /64
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	a, n := l.addrs[key], l.nets[netKey]
	if ip.by != "" && uint64(countOf(a))+1 > ip.n {
		return nil, &ipRefusal{count: uint64(countOf(a)) + 1, max: ip}
	}
	if net.by != "" && uint64(countOf(n))+1 > net.n {
		return nil, &ipRefusal{count: uint64(countOf(n)) + 1, max: net}
	}
	if n == nil {
		n = &ipCount{key: netKey}
		l.nets[netKey] = n
	}
	if a == nil {
		a = &ipCount{key: key, net: n}
		l.addrs[key] = a
	}
	a.n++
	n.n++
	return a, nil
}

func countOf(c *ipCount) uint32 {
	if c == nil {
		return 0
	}
	return c.n
}

// started records that pid holds the place reserved for c. The caller holds
// children.spawning, so the reaper cannot collect pid before this.
func (l *ipLimits) started(pid int, c *Description) {
	if l == nil || c.slot == nil {
		return
	}
	l.mu.Lock()
	l.pids[int32(pid)] = c.slot
	l.mu.Unlock()
}

// cancel gives back the place of a connection whose spawn failed.
func (l *ipLimits) cancel(c *Description) {
	if l == nil || c.slot == nil {
		return
	}
	l.mu.Lock()
	l.release(c.slot)
	l.mu.Unlock()
	c.slot = nil
}

// ended gives back the place of the program pid, which the reaper collected.
func (l *ipLimits) ended(pid int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if a, ok := l.pids[int32(pid)]; ok {
		delete(l.pids, int32(pid))
		l.release(a)
	}
	l.mu.Unlock()
}

func (l *ipLimits) release(a *ipCount) {
	a.n--
	if a.n == 0 {
		delete(l.addrs, a.key)
	}
	a.net.n--
	if a.net.n == 0 {
		delete(l.nets, a.net.key)
	}
}

// refuse ends the denial of a connection over its limit: the limit line
// (-v) after the deny line in b, and the message, if any, with CRLF, sent
// without waiting. The client's unread bytes are then discarded, so that the
// close that follows ends the connection with a FIN, not with a reset that
// could destroy the message before the client reads it.
func (s *Server) refuse(fd int, c *Description, b []byte) []byte {
	r := c.refused
	if r == nil {
		return b
	}
	if s.log.verbose() {
		b = append(s.log.appendName(b), "limit 0 "...)
		b = append(b, s.remoteText(c.Remote)...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.count, 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, r.max.n, 10)
		b = append(b, ' ')
		b = append(b, r.max.by...)
		b = append(b, '\n')
	}
	if r.message != nil && *r.message != "" {
		syscall.SendmsgN(fd, []byte(*r.message+"\r\n"), nil, nil, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
		// MSG_TRUNC: TCP drops the bytes without copying them anywhere.
		syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), 0, 1<<30, syscall.MSG_DONTWAIT|syscall.MSG_TRUNC, 0, 0)
	}
	return b
}
