// Package fakedns is a DNS server for tests: it listens on port 53 of an unused
// 127.x.y.z address (so $DNSCACHEIP can point at it), answers from a zone given
// as master-file lines, and can be told to fail or stay silent for some names.
package fakedns

import (
	"errors"
	"fmt"
	"net"
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
	queries  []string
}

// Start serves zone (master-file lines like `4.3.2.1.rbl.test. TXT "listed"` or
// `host.test. A 127.0.0.1`) until the test ends. It needs to bind port 53, so
// root; it skips the test when it cannot.
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
	s = &Server{servfail: map[string]bool{}, silent: map[string]bool{}}
	for _, line := range zone {
		rr, err := dns.NewRR(line)
		if err != nil {
			return nil, nil, fmt.Errorf("%q: %v", line, err)
		}
		s.records = append(s.records, rr)
	}
	for i := 0; i < 200; i++ {
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
		s.IP = ip
		udp := &dns.Server{PacketConn: pc, Handler: s}
		tcp := &dns.Server{Listener: ln, Handler: s}
		go udp.ActivateAndServe()
		go tcp.ActivateAndServe()
		return s, func() { udp.Shutdown(); tcp.Shutdown() }, nil
	}
	return nil, nil, errNoAddress
}

// ServFail makes the server answer SERVFAIL for name.
func (s *Server) ServFail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[dns.Fqdn(strings.ToLower(name))] = true
}

// Silent makes the server never answer for name, so lookups time out.
func (s *Server) Silent(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[dns.Fqdn(strings.ToLower(name))] = true
}

// Queries returns "TYPE name" for every question asked so far.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// ServeDNS answers one query from the zone: the matching records, NXDOMAIN when
// the name has none at all, an empty answer when it has others.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	s.queries = append(s.queries, dns.TypeToString[q.Qtype]+" "+name)
	silent, servfail := s.silent[name], s.servfail[name]
	var answer []dns.RR
	exists := false
	for _, rr := range s.records {
		if strings.ToLower(rr.Header().Name) != name {
			continue
		}
		exists = true
		if rr.Header().Rrtype == q.Qtype {
			answer = append(answer, dns.Copy(rr))
		}
	}
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
	case !exists:
		m.Rcode = dns.RcodeNameError
	default:
		m.Answer = answer
	}
	w.WriteMsg(m)
}
