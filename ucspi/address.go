package ucspi

import (
	"cmp"
	"context"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"unsafe"

	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/scan"
)

// Addresses shared by tcpserver and tcpclient: what a host operand stands for,
// the addresses of a socket, and the interface of a link-local address.

// families says which addresses a host operand may stand for.
type families int

const (
	v4Only  families = iota // -4: IPv4 only, names looked up for A records
	v4Names                 // names looked up for A records, as 0.88 (tcpclient)
	v4First                 // A records, else AAAA ones (tcpserver's host)
	v6First                 // AAAA records then A ones, as ucspi-tcp-ipv6's dns_ip6 (tcpclient -6)
)

// hostAddrs is what host stands for: a name with a colon is an IPv6 literal
// (in brackets or not, a %zone allowed; with v4Only, none); anything else is
// read as djb's dns_ip4 reads it: digits, dots and brackets are IPv4 literals
// (see dns.Literal4), other names are looked up for the records fam names. With
// qualify, a name is first completed as tcpclient's dns_ip4_qualify does, and
// its forms are tried in turn until one has addresses. The errors are 0.88's:
// "no IP address for HOST", "temporarily unable to figure out IP address for
// HOST: REASON".
func hostAddrs(ctx context.Context, r *dns.Resolver, host string, qualify bool, fam families) ([]netip.Addr, error) {
	noAddress := exit.Fatal(exit.Temporary, "no IP address for ", host)
	if strings.Contains(host, ":") {
		literal := host
		if strings.HasPrefix(literal, "[") && strings.HasSuffix(literal, "]") {
			literal = literal[1 : len(literal)-1]
		}
		ip, err := netip.ParseAddr(literal)
		if err != nil || (fam == v4Only && !ip.Unmap().Is4()) {
			return nil, noAddress
		}
		return []netip.Addr{ip.Unmap()}, nil
	}
	names := []string{host}
	if qualify {
		var err error
		if names, err = r.Qualify(host); err != nil {
			return nil, lookupFailed(host, err)
		}
	}
	for _, name := range names {
		addrs, err := lookupHost(ctx, r, name, fam)
		if err != nil {
			return nil, lookupFailed(host, err)
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
	}
	return nil, noAddress
}

func lookupFailed(host string, err error) error {
	return exit.FatalSys(exit.Temporary, err, "temporarily unable to figure out IP address for ", host, ": ")
}

// lookupHost is name's addresses of the families fam names, in their order.
// Under v6First a family whose lookup fails is left out when the other has
// addresses.
func lookupHost(ctx context.Context, r *dns.Resolver, name string, fam families) ([]netip.Addr, error) {
	if addrs, literal := dns.Literal4(name); literal {
		return addrs, nil
	}
	switch fam {
	case v4First:
		addrs, err := r.IP4(ctx, name)
		if err != nil || len(addrs) > 0 {
			return addrs, err
		}
		return r.IP6(ctx, name)
	case v6First:
		six, err6 := r.IP6(ctx, name)
		four, err4 := r.IP4(ctx, name)
		if addrs := append(six, four...); len(addrs) > 0 {
			return addrs, nil
		}
		return nil, cmp.Or(err6, err4)
	}
	return r.IP4(ctx, name)
}

// sockName and peerName are a socket's own and its peer's address, read
// without allocating.
func sockName(fd int) (netip.AddrPort, uint32, error) {
	return rawName(syscall.SYS_GETSOCKNAME, fd)
}

func peerName(fd int) (netip.AddrPort, uint32, error) {
	return rawName(syscall.SYS_GETPEERNAME, fd)
}

func rawName(call uintptr, fd int) (netip.AddrPort, uint32, error) {
	var sa syscall.RawSockaddrAny
	n := uint32(unsafe.Sizeof(sa))
	_, _, e := syscall.RawSyscall(call, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return netip.AddrPort{}, 0, e
	}
	a, scope := rawAddr(&sa)
	return a, scope, nil
}

// rawAddr converts a socket address without allocating; IPv6 zones are dropped
// (the scope comes back separately), as the UCSPI variables carry none.
func rawAddr(sa *syscall.RawSockaddrAny) (netip.AddrPort, uint32) {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), ntohs(p.Port)), 0
	case syscall.AF_INET6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr), ntohs(p.Port)), p.Scope_id
	}
	return netip.AddrPort{}, 0
}

func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// scopeID is the interface index for an IPv6 socket address: of iface (-I),
// else of ip's zone; a name, else a number; 0 for none.
func scopeID(ip netip.Addr, iface string) uint32 {
	if iface == "" {
		iface = ip.Zone()
	}
	if iface == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(iface); err == nil {
		return uint32(ifi.Index)
	}
	if n, digits := scan.Ulong(iface); digits == len(iface) {
		return uint32(n)
	}
	return 0
}
