// Package dns answers the DNS questions ucspi-tcp asks (a host's addresses,
// an address's name, a blocklist's TXT and A records), sending them where djb's
// dns library would: to $DNSCACHEIP when it is set, else to the servers in
// /etc/resolv.conf.
package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Timeout bounds one whole lookup (all servers, all retries), as djb's library
// gives up after its 1+3+11+45 second schedule.
const Timeout = 60 * time.Second

// New returns a resolver honouring $DNSCACHEIP. Like Go's own resolver it reads
// /etc/hosts first; djb's library did not (see docs/compat.md).
func New() *net.Resolver {
	servers := cacheIPs(os.Getenv("DNSCACHEIP"))
	if len(servers) == 0 {
		return &net.Resolver{PreferGo: true}
	}
	var next atomic.Uint32
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			server := servers[int(next.Add(1)-1)%len(servers)]
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}
}

// cacheIPs parses $DNSCACHEIP: addresses separated by spaces or commas.
func cacheIPs(v string) []string {
	var servers []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		if ip, err := netip.ParseAddr(strings.Trim(f, "[]")); err == nil {
			servers = append(servers, netip.AddrPortFrom(ip.Unmap(), 53).String())
		}
	}
	return servers
}

// Name is the first PTR name for ip, without the trailing dot, or "" with the
// error when there is none.
func Name(ctx context.Context, r *net.Resolver, ip netip.Addr) (string, error) {
	names, err := r.LookupAddr(ctx, ip.Unmap().String())
	if err != nil || len(names) == 0 {
		return "", err
	}
	return strings.TrimSuffix(names[0], "."), nil
}

// Addrs are host's addresses of the given network ("ip4", "ip6" or "ip").
func Addrs(ctx context.Context, r *net.Resolver, network, host string) ([]netip.Addr, error) {
	addrs, err := r.LookupNetIP(ctx, network, host)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, err
}

// NotFound reports whether err says the name does not exist or has no records of
// the asked type, rather than that the lookup failed.
func NotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
