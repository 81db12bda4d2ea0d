package dns

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"time"
)

// What djb's library reads before it asks anything: where questions go
// (dns_rcip.c) and how tcpclient's host names are completed (dns_rcrw.c). Both
// are read at the first lookup and again after ten minutes or 10000 lookups,
// as djb's library does.

const (
	confLifetime = 600 * time.Second
	confUses     = 10000
)

// Files the configuration comes from; tests point them elsewhere.
var (
	resolvConf     = "/etc/resolv.conf"
	rewriteDefault = "/etc/dnsrewrite"
	hostname       = os.Hostname
)

// cached is one configuration read, kept for ten minutes or 10000 uses.
type cached[T any] struct {
	value   T
	err     error
	expires time.Time
	uses    int
}

// get returns the value, reading it afresh with read when it has expired.
func (c *cached[T]) get(now time.Time, read func() (T, error)) (T, error) {
	if c.uses == 0 || now.After(c.expires) {
		c.value, c.err = read()
		c.expires, c.uses = now.Add(confLifetime), confUses
		if c.err != nil {
			c.uses = 0 // djb's library tries again at the next lookup
		}
	}
	if c.uses > 0 {
		c.uses--
	}
	return c.value, c.err
}

// maxServers is how many addresses djb's library keeps (64 bytes of IPv4).
const maxServers = 16

// readServers is dns_rcip's init: the addresses of $DNSCACHEIP, else the
// nameserver lines of resolv.conf, else 127.0.0.1.
func readServers() ([]netip.Addr, error) {
	if v, ok := os.LookupEnv("DNSCACHEIP"); ok {
		if servers := cacheIPs(v); len(servers) > 0 {
			return servers, nil
		}
	}
	data, err := readFile(resolvConf)
	if err != nil {
		return nil, err
	}
	var servers []netip.Addr
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte("nameserver"))
		if !ok || len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest = bytes.TrimLeft(rest, " \t")
		ip, n := scanIP4(string(rest))
		if n == 0 || len(servers) == maxServers {
			continue
		}
		if ip.IsUnspecified() {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		servers = append(servers, ip)
	}
	if len(servers) == 0 {
		servers = append(servers, netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	}
	return servers, nil
}

// cacheIPs reads $DNSCACHEIP as djb's library does: IPv4 addresses (read by
// ip4_scan) one after the other, dots between them skipped, up to the first
// thing that is not one, at most 16. As in ucspi-tcp-ipv6, an IPv6 address
// (hex digits and colons) may stand for an IPv4 one.
func cacheIPs(v string) []netip.Addr {
	var servers []netip.Addr
	for len(servers) < maxServers && v != "" {
		if v[0] == '.' {
			v = v[1:]
			continue
		}
		ip, n := scanIP4(v)
		if n == 0 {
			ip, n = scanIP6(v)
		}
		if n == 0 {
			break
		}
		servers = append(servers, ip)
		v = v[n:]
	}
	return servers
}

// scanIP4 is djb's ip4_scan: four numbers separated by dots, each taken
// modulo 256, and how many bytes they took; 0 when s does not start so.
func scanIP4(s string) (netip.Addr, int) {
	var ip [4]byte
	n := 0
	for i := range 4 {
		if i > 0 {
			if n == len(s) || s[n] != '.' {
				return netip.Addr{}, 0
			}
			n++
		}
		var u uint64
		start := n
		for ; n < len(s) && s[n] >= '0' && s[n] <= '9'; n++ {
			u = u*10 + uint64(s[n]-'0')
		}
		if n == start {
			return netip.Addr{}, 0
		}
		ip[i] = byte(u)
	}
	return netip.AddrFrom4(ip), n
}

// scanIP6 reads the IPv6 address s starts with (hex digits and colons, maybe
// an IPv4 address at the end), and how many bytes it took; 0 when there is
// none.
func scanIP6(s string) (netip.Addr, int) {
	n := 0
	for n < len(s) && (s[n] == ':' || s[n] == '.' || s[n] >= '0' && s[n] <= '9' || s[n] >= 'a' && s[n] <= 'f' || s[n] >= 'A' && s[n] <= 'F') {
		n++
	}
	for _, text := range []string{s[:n], s[:strings.IndexByte(s[:n]+".", '.')]} {
		if ip, err := netip.ParseAddr(text); err == nil && strings.Contains(text, ":") {
			return ip.Unmap(), len(text)
		}
	}
	return netip.Addr{}, 0
}

// readRules is dns_rcrw's init: the lines of $DNSREWRITEFILE (or
// /etc/dnsrewrite), else rules made from $LOCALDOMAIN, else from the first
// search or domain line of resolv.conf, else from the host's name.
func readRules() ([]string, error) {
	file := rewriteDefault
	if v, ok := os.LookupEnv("DNSREWRITEFILE"); ok {
		file = v
	}
	data, err := readFile(file)
	if err != nil {
		return nil, err
	}
	if data != nil {
		var rules []string
		for line := range bytes.Lines(data) {
			rules = append(rules, string(bytes.TrimRight(line, " \t\r\n")))
		}
		return rules, nil
	}
	if v, ok := os.LookupEnv("LOCALDOMAIN"); ok {
		rule := "?:"
		for _, d := range strings.Split(v, " ") {
			rule += "+." + d
		}
		return []string{rule, "*.:"}, nil
	}
	if data, err = readFile(resolvConf); err != nil {
		return nil, err
	}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) < 7 || (!bytes.HasPrefix(line, []byte("search")) && !bytes.HasPrefix(line, []byte("domain"))) ||
			(line[6] != ' ' && line[6] != '\t') {
			continue
		}
		rule := "?:"
		for _, d := range strings.FieldsFunc(string(line[7:]), func(r rune) bool { return r == ' ' || r == '\t' }) {
			rule += "+." + d
		}
		return []string{rule, "*.:"}, nil
	}
	name, err := hostname()
	if err != nil {
		return nil, err
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return []string{"?:" + name[i:], "*.:"}, nil
	}
	return []string{"*.:"}, nil
}

// readFile is djb's openreadclose: the file's bytes, nil (no error) when it
// does not exist.
func readFile(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil && data == nil {
		data = []byte{}
	}
	return data, err
}
