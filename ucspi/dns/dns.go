// Package dns answers the DNS questions ucspi-tcp asks (a host's addresses,
// an address's name, a blocklist's TXT records) the way djb's dns library in
// ucspi-tcp 0.88 answers them: questions go to $DNSCACHEIP, else to the
// nameservers of /etc/resolv.conf, else to 127.0.0.1, never to /etc/hosts;
// answers are read by djb's rules (every address record whatever its owner,
// the first PTR, TXT strings joined), names come out as djb writes them
// (lowercase, odd bytes as \ooo), and the exchange keeps djb's retries,
// timeouts and error words. An empty answer (NXDOMAIN, or no record of the
// type) is no error: it is an empty result, as in djb's library.
//
// The wire format is read here, not by a DNS library: the libraries at hand
// refuse what djb's code accepts (a dot inside a label, long compression
// chains), and which answers are accepted is the behaviour to match.
package dns

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Resolver asks the questions. It reads its configuration at the first
// question and keeps it for ten minutes, as djb's library does; it may be used
// by several goroutines at once.
type Resolver struct {
	mu      sync.Mutex
	servers cached[[]netip.Addr]
	rules   cached[[]string]

	schedule [3]time.Duration // the UDP rounds' waits; zero means djb's
	tcpWait  time.Duration
}

// New returns a resolver.
func New() *Resolver { return &Resolver{schedule: schedule, tcpWait: tcpWait} }

// IP4 is djb's dns_ip4: the IPv4 addresses of name in a random order. A name
// made of nothing but digits, dots and brackets is an address literal, read
// without a question (see Literal4); any other is asked for its A records.
func (r *Resolver) IP4(ctx context.Context, name string) ([]netip.Addr, error) {
	if addrs, ok := Literal4(name); ok {
		return addrs, nil
	}
	return r.addrs(ctx, name, typeA, 4)
}

// IP6 is the AAAA question of ucspi-tcp-ipv6's dns_ip6: the IPv6 addresses of
// name in a random order.
func (r *Resolver) IP6(ctx context.Context, name string) ([]netip.Addr, error) {
	return r.addrs(ctx, name, typeAAAA, 16)
}

func (r *Resolver) addrs(ctx context.Context, name string, qtype uint16, size int) ([]netip.Addr, error) {
	p, err := r.ask(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	addrs, err := addrPacket(p, qtype, size)
	if err != nil {
		return nil, err
	}
	// djb's dns_sortip: a random order, so that clients spread over them.
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	return addrs, nil
}

// Name is djb's dns_name4 (and ucspi-tcp-ipv6's dns_name6 for an IPv6
// address): the first PTR name for ip, "" when there is none.
func (r *Resolver) Name(ctx context.Context, ip netip.Addr) (string, error) {
	p, err := r.ask(ctx, reverseName(ip), typePTR)
	if err != nil {
		return "", err
	}
	return namePacket(p)
}

// TXT is djb's dns_txt: the strings of every TXT record of name joined, each
// byte outside 32..126 turned into '?'; "" when there is none.
func (r *Resolver) TXT(ctx context.Context, name string) (string, error) {
	p, err := r.ask(ctx, name, typeTXT)
	if err != nil {
		return "", err
	}
	return txtPacket(p)
}

// ask sends the question (name, qtype) and returns the answer packet.
func (r *Resolver) ask(ctx context.Context, name string, qtype uint16) ([]byte, error) {
	q, ok := fromDot(name)
	if !ok {
		return nil, errProto
	}
	r.mu.Lock()
	servers, err := r.servers.get(time.Now(), readServers)
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	x := exchange{ctx: ctx, servers: servers, q: q, qtype: qtype, schedule: r.schedule, tcpWait: r.tcpWait}
	if x.schedule == [3]time.Duration{} {
		x.schedule, x.tcpWait = schedule, tcpWait
	}
	return x.run()
}

// reverseName is the name ip's PTR record is published under: d.c.b.a.in-
// addr.arpa for a.b.c.d (an IPv4-mapped address included), the 32 nibbles
// of an IPv6 address reversed under ip6.arpa.
func reverseName(ip netip.Addr) string {
	var b []byte
	if ip = ip.Unmap(); ip.Is4() {
		a := ip.As4()
		for i := 3; i >= 0; i-- {
			b = appendDecimal(b, a[i])
			b = append(b, '.')
		}
		return string(append(b, "in-addr.arpa"...))
	}
	const hex = "0123456789abcdef"
	a := ip.As16()
	for i := 15; i >= 0; i-- {
		b = append(b, hex[a[i]&15], '.', hex[a[i]>>4], '.')
	}
	return string(append(b, "ip6.arpa"...))
}

func appendDecimal(b []byte, n byte) []byte {
	if n >= 100 {
		b = append(b, '0'+n/100)
	}
	if n >= 10 {
		b = append(b, '0'+n/10%10)
	}
	return append(b, '0'+n%10)
}

// Literal4 is the first step of djb's dns_ip4: a name holding nothing but
// digits, dots and brackets is read as addresses, without a question. Every
// dot ends a byte (a number taken modulo 256), brackets are skipped, and each
// four bytes make an address, so "127.000.000.001" and "[127.0.0.1]" are
// 127.0.0.1 and "1.2.3" is none. ok is false for any other name.
func Literal4(name string) (addrs []netip.Addr, ok bool) {
	var bytes []byte
	var code byte
	for i := 0; i <= len(name); i++ {
		ch := byte('.')
		if i < len(name) {
			ch = name[i]
		}
		switch {
		case ch == '[' || ch == ']':
		case ch == '.':
			bytes = append(bytes, code)
			code = 0
		case ch >= '0' && ch <= '9':
			code = code*10 + ch - '0'
		default:
			return nil, false
		}
	}
	for ; len(bytes) >= 4; bytes = bytes[4:] {
		addrs = append(addrs, netip.AddrFrom4([4]byte(bytes[:4])))
	}
	return addrs, true
}

// Qualify is the rewriting djb's dns_ip4_qualify does to tcpclient's host
// name before looking it up: the rules of /etc/dnsrewrite (or
// $DNSREWRITEFILE), else those made from $LOCALDOMAIN, resolv.conf's search or
// domain line, or the host's own domain (a name without a dot gets the domain
// appended; a trailing dot is removed). The result is the names to try, in
// order, until one has addresses.
func (r *Resolver) Qualify(name string) ([]string, error) {
	r.mu.Lock()
	rules, err := r.rules.get(time.Now(), readRules)
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, rule := range rules {
		name = rewrite(name, rule)
	}
	prefix, rest, alternatives := strings.Cut(name, "+")
	if !alternatives {
		return []string{name}, nil
	}
	var names []string
	for alt := range strings.SplitSeq(rest, "+") {
		names = append(names, prefix+alt)
	}
	return names, nil
}

// rewrite applies one dnsrewrite rule to name, as dns_ipq.c's doit: "?suffix:
// replacement" for a name whose part before the suffix has no dot or bracket,
// "=name:replacement" for that name exactly, "*suffix:replacement" for any name
// with the suffix, "-suffix:replacement" replacing the whole name; the suffix
// in any case.
func rewrite(name, rule string) string {
	if rule == "" || !strings.ContainsRune("?=*-", rune(rule[0])) {
		return name
	}
	kind := rule[0]
	suffix, replacement, ok := strings.Cut(rule[1:], ":")
	if !ok || len(name) < len(suffix) {
		return name
	}
	prefix := len(name) - len(suffix)
	switch {
	case kind == '=' && prefix > 0,
		!equalFoldASCII(suffix, name[prefix:]),
		kind == '?' && strings.ContainsAny(name[:prefix], ".[]"):
		return name
	case kind == '-':
		return replacement
	}
	return name[:prefix] + replacement
}

func equalFoldASCII(a, b string) bool {
	return len(a) == len(b) && equalNames([]byte(a), []byte(b))
}
