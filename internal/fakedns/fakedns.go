// Package fakedns is a DNS server for tests: it listens on port 53 of an unused
// 127.x.y.z address (so $DNSCACHEIP can point at it) and answers as a recursive
// cache such as dnscache would, from a zone given as master-file lines. It can
// be told to fail, stay silent, truncate or answer with a fixed answer section
// for some names, and it can stand for a server that is not there at all.
package fakedns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a running fake DNS server.
type Server struct {
	IP string // the loopback address it listens on, port 53

	mu       sync.Mutex
	records  []dns.RR
	servfail map[string]bool
	silent   map[string]bool
	truncate map[string]bool
	answers  map[string][]dns.RR // "TYPE name" -> a fixed answer section
	log      []Query
}

// Query is one question the server was asked.
type Query struct {
	Type, Name string // "A", "www.example.test." (lowercase)
	TCP        bool
	ID         uint16
	From       netip.AddrPort
}

func (q Query) String() string {
	s := q.Type + " " + q.Name
	if q.TCP {
		s += " tcp"
	}
	return s
}

// Start serves zone (master-file lines like `4.3.2.1.rbl.test. TXT "listed"` or
// `host.test. A 127.0.0.1`) until the test ends. Names in the zone keep the
// case they are written in, in answers; questions match them in any case. It
// needs to bind port 53, so root; it skips the test when it cannot.
func Start(t testing.TB, zone ...string) *Server {
	t.Helper()
	s, stop, err := Listen(zone...)
	switch {
	case errors.Is(err, errNoAddress):
		t.Skip("fakedns: cannot bind port 53 on loopback (not root?)")
	case err != nil:
		t.Fatalf("fakedns: %v", err)
	}
	t.Cleanup(stop)
	return s
}

var errNoAddress = errors.New("no 127.53.x.y address with port 53 free")

// Listen is Start for programs (the benchmark's DNS cache): it serves zone on
// port 53 of a free 127.53.x.y until stop is called.
func Listen(zone ...string) (s *Server, stop func(), err error) {
	s = &Server{
		servfail: map[string]bool{}, silent: map[string]bool{}, truncate: map[string]bool{},
		answers: map[string][]dns.RR{},
	}
	if s.records, err = parse(zone); err != nil {
		return nil, nil, err
	}
	pc, ln, err := bind()
	if err != nil {
		return nil, nil, err
	}
	s.IP = ln.Addr().(*net.TCPAddr).IP.String()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	return s, func() { udp.Shutdown(); tcp.Shutdown() }, nil
}

// Absent returns a loopback address where no DNS server listens: questions
// sent there are refused by the kernel (ECONNREFUSED), as on a host whose
// cache is down. It is taken from 127.54/16, where the other servers of this
// package never listen.
func Absent(t testing.TB) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		ip := fmt.Sprintf("127.54.%d.%d", i/250, 1+i%250)
		if pc, err := net.ListenPacket("udp", ip+":53"); err == nil {
			pc.Close()
			return ip
		}
	}
	t.Skip("fakedns: cannot bind port 53 on loopback (not root?)")
	return ""
}

// bound is bind for tests: it skips the test when no address is free.
func bound(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	pc, ln, err := bind()
	if err != nil {
		t.Skip("fakedns: cannot bind port 53 on loopback (not root?)")
	}
	return pc, ln
}

// Mute returns a loopback address whose port 53 takes questions (UDP and TCP)
// and never answers them, until the test ends.
func Mute(t testing.TB) string {
	t.Helper()
	pc, ln := bound(t)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).IP.String()
}

// Raw returns a loopback address whose port 53 answers each UDP question with
// the datagrams reply returns for it (none: silence), until the test ends. It
// stands for servers that answer wrongly: another id, another question, a
// datagram too long.
func Raw(t testing.TB, reply func(query []byte) [][]byte) string {
	t.Helper()
	pc, ln := bound(t)
	ln.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, d := range reply(append([]byte(nil), buf[:n]...)) {
				pc.WriteTo(d, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().(*net.UDPAddr).IP.String()
}

// bind takes UDP and TCP port 53 on the first free 127.53.x.y.
func bind() (net.PacketConn, net.Listener, error) {
	for i := 0; i < 1000; i++ {
		ip := fmt.Sprintf("127.53.%d.%d", i/250, 1+i%250)
		pc, err := net.ListenPacket("udp", ip+":53")
		if err != nil {
			continue
		}
		ln, err := net.Listen("tcp", ip+":53")
		if err != nil {
			pc.Close()
			continue
		}
		return pc, ln, nil
	}
	return nil, nil, errNoAddress
}

func parse(lines []string) ([]dns.RR, error) {
	var rrs []dns.RR
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			return nil, fmt.Errorf("%q: %v", line, err)
		}
		rrs = append(rrs, rr)
	}
	return rrs, nil
}

func key(name string) string { return dns.Fqdn(strings.ToLower(name)) }

// ServFail makes the server answer SERVFAIL for name.
func (s *Server) ServFail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[key(name)] = true
}

// Silent makes the server never answer for name, so lookups time out.
func (s *Server) Silent(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[key(name)] = true
}

// Truncate makes the server answer questions for name over UDP with the TC bit
// and no records, so that the client must ask again over TCP; TCP gets the
// whole answer. (Answers too long for 512 bytes are truncated anyway, as a
// server does for a client without EDNS0.)
func (s *Server) Truncate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate[key(name)] = true
}

// Answer fixes the answer section for the question (name, qtype): the records
// rrs, whatever their owners and types, with NOERROR. It stands for caches and
// servers that answer oddly: foreign owners, a CNAME without its target,
// records of another type.
func (s *Server) Answer(t testing.TB, name, qtype string, rrs ...string) {
	t.Helper()
	parsed, err := parse(rrs)
	if err != nil {
		t.Fatalf("fakedns: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[strings.ToUpper(qtype)+" "+key(name)] = parsed
}

// Queries returns "TYPE name" for every question asked so far, with " tcp"
// appended for those that came over TCP.
func (s *Server) Queries() []string {
	var out []string
	for _, q := range s.Log() {
		out = append(out, q.String())
	}
	return out
}

// Log returns every question asked so far.
func (s *Server) Log() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

// ServeDNS answers one query as a recursive cache would: the records of the
// asked type at the name, or the CNAME chain from it followed to the records of
// the asked type at its end; NXDOMAIN when the name has no records at all, an
// empty answer when it has others.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	name := key(q.Name)
	qtype := dns.TypeToString[q.Qtype]
	_, overTCP := w.RemoteAddr().(*net.TCPAddr)
	from, _ := netip.ParseAddrPort(w.RemoteAddr().String())
	s.mu.Lock()
	s.log = append(s.log, Query{Type: qtype, Name: name, TCP: overTCP, ID: req.Id, From: from})
	silent, servfail, truncate := s.silent[name], s.servfail[name], s.truncate[name]
	fixed, isFixed := s.answers[qtype+" "+name]
	answer, exists := s.resolve(name, q.Qtype)
	s.mu.Unlock()
	if silent {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	switch {
	case servfail:
		m.Rcode = dns.RcodeServerFailure
	case truncate && !overTCP:
		m.Truncated = true
	case isFixed:
		m.Answer = fixed
	case !exists:
		m.Rcode = dns.RcodeNameError
	default:
		m.Answer = answer
	}
	if !overTCP {
		m.Truncate(dns.MinMsgSize)
	}
	w.WriteMsg(m)
}

// resolve collects the answer for (name, qtype) from the zone; exists is false
// when name has no records at all. Called with s.mu held.
func (s *Server) resolve(name string, qtype uint16) (answer []dns.RR, exists bool) {
	for hops := 0; hops < 10; hops++ {
		var cname dns.RR
		found := false
		for _, rr := range s.records {
			if key(rr.Header().Name) != name {
				continue
			}
			exists = true
			switch rr.Header().Rrtype {
			case qtype:
				answer = append(answer, dns.Copy(rr))
				found = true
			case dns.TypeCNAME:
				cname = rr
			}
		}
		if found || cname == nil {
			return answer, exists
		}
		answer = append(answer, dns.Copy(cname))
		name = key(cname.(*dns.CNAME).Target)
	}
	return answer, true
}
