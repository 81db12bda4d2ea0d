package ucspi

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/scan"
)

// The listening side of tcpserver: which address and port the command line
// names, and the socket bound to them.

// Port reads tcpserver's port argument: a number (digits only, the empty string
// being 0, as scan_ulong sees it), else a service name from /etc/services. A
// number above 65535 is a usage error, where 0.88 took it modulo 65536.
func Port(name string) (uint16, error) {
	if n, digits := scan.Ulong(name); digits == len(name) {
		if n > 65535 || len(strings.TrimLeft(name, "0")) > 5 { // more digits could wrap n
			return 0, exit.BadUsage("port out of range (0 to 65535): ", name)
		}
		return uint16(n), nil
	}
	if p, ok := service(servicesFile, name); ok {
		return p, nil
	}
	return 0, exit.Fatal(exit.Temporary, "unable to figure out port number for ", name)
}

var servicesFile = "/etc/services"

// service is getservbyname(name, "tcp") reading file: the port of the tcp entry
// whose name or alias is name, exactly (case matters, as in the C library).
// Lines may be of any length, as the C library reads them.
func service(file, name string) (uint16, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		num, proto, ok := strings.Cut(fields[1], "/")
		if !ok || proto != "tcp" {
			continue
		}
		for i, f := range fields {
			if i == 1 || f != name {
				continue
			}
			n, digits := scan.Ulong(num)
			if digits == 0 || digits != len(num) || n > 65535 {
				break
			}
			return uint16(n), true
		}
	}
	return 0, false
}

// Host finds the address tcpserver binds for its host argument: "0" or "" is
// every IPv4 address, as under 0.88 (a host swapping Debian's package for ours
// must not start serving IPv6, where its firewall may have no rules; "::" asks
// for both families); a name with colons is an IPv6 address, brackets and
// "%zone" allowed; a name made of digits, dots and brackets is an IPv4 address
// read the way djb's dns_ip4 reads it ("127.000.000.001" is 127.0.0.1);
// anything else is looked up in the DNS, its IPv4 addresses (in djb's random
// order) preferred as under 0.88, else its IPv6 ones.
func Host(r *dns.Resolver, host string, ipv4Only bool) (netip.Addr, error) {
	if host == "" || host == "0" {
		return netip.IPv4Unspecified(), nil
	}
	fam := v4First
	if ipv4Only {
		fam = v4Only
	}
	addrs, err := hostAddrs(context.Background(), r, host, false, fam)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0], nil
}

// Listener is tcpserver's listening socket. It is non-blocking and waits in
// Go's poller, so that the accepting goroutine parks instead of holding its
// thread in accept (which made the runtime hand the thread's other goroutines
// to another thread at every connection); what it accepts is blocking all the
// same, accept4 giving new sockets their own flags.
type Listener struct {
	fd     int
	file   *os.File
	raw    syscall.RawConn
	Addr   netip.AddrPort // the bound address; its port is the real one for port 0
	inet6  bool
	closed atomic.Bool // Close was called: Accept's failures are the end

	// Accept's results, set by accept from inside raw.Read.
	sa       syscall.RawSockaddrAny
	accepted int
	errno    syscall.Errno
	accept   func(uintptr) bool
}

// Listen binds ip:port (with SO_REUSEADDR, as 0.88, and SO_REUSEPORT if
// reusePort) and listens. The IPv6 wildcard accepts IPv4 peers too; where the
// kernel has no IPv6 it falls back to the IPv4 wildcard. iface is the -I
// interface for a link-local address.
func Listen(ip netip.Addr, port uint16, backlog uint64, iface string, reusePort bool) (*Listener, error) {
	const flags = syscall.SOCK_STREAM | syscall.SOCK_CLOEXEC | syscall.SOCK_NONBLOCK
	fd, err := syscall.Socket(family(ip), flags, 0)
	if err != nil && ip == netip.IPv6Unspecified() {
		ip = netip.IPv4Unspecified()
		fd, err = syscall.Socket(family(ip), flags, 0)
	}
	if err != nil {
		return nil, exit.FatalSys(exit.Temporary, err, "unable to create socket: ")
	}
	l := &Listener{fd: fd, inet6: family(ip) == syscall.AF_INET6}
	if reusePort {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			syscall.Close(fd)
			return nil, exit.FatalSys(exit.Temporary, err, "unable to bind: ")
		}
	}
	if err := l.bind(ip, port, iface); err != nil {
		syscall.Close(fd)
		return nil, exit.FatalSys(exit.Temporary, err, "unable to bind: ")
	}
	if l.Addr, _, err = sockName(fd); err != nil {
		syscall.Close(fd)
		return nil, exit.FatalSys(exit.Temporary, err, "unable to get local address: ")
	}
	if backlog > 1<<30 {
		backlog = 1 << 30
	}
	if err := syscall.Listen(fd, int(backlog)); err != nil {
		syscall.Close(fd)
		return nil, exit.FatalSys(exit.Temporary, err, "unable to listen: ")
	}
	if err := l.poll(); err != nil {
		return nil, err
	}
	return l, nil
}

// poll hands the non-blocking listening socket to Go's poller, for Accept.
func (l *Listener) poll() error {
	var err error
	l.file = os.NewFile(uintptr(l.fd), "tcpserver")
	if l.raw, err = l.file.SyscallConn(); err != nil {
		l.file.Close()
		return exit.FatalSys(exit.Temporary, err, "unable to listen: ")
	}
	l.accept = func(fd uintptr) bool {
		n := uint32(unsafe.Sizeof(l.sa))
		r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&l.sa)),
			uintptr(unsafe.Pointer(&n)), syscall.SOCK_CLOEXEC, 0, 0)
		l.accepted, l.errno = int(r), e
		return e != syscall.EAGAIN
	}
	return nil
}

func family(ip netip.Addr) int {
	if ip.Is4() {
		return syscall.AF_INET
	}
	return syscall.AF_INET6
}

func (l *Listener) bind(ip netip.Addr, port uint16, iface string) error {
	if err := syscall.SetsockoptInt(l.fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if ip.Is4() {
		return syscall.Bind(l.fd, &syscall.SockaddrInet4{Port: int(port), Addr: ip.As4()})
	}
	if ip.IsUnspecified() {
		// Dual-stack whatever the system's default (bindv6only) says.
		syscall.SetsockoptInt(l.fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0)
	}
	sa := &syscall.SockaddrInet6{Port: int(port), Addr: ip.As16(), ZoneId: scopeID(ip, iface)}
	return syscall.Bind(l.fd, sa)
}

// Accept takes the next connection, waiting for one: a blocking, close-on-exec
// descriptor, the peer's address and, for a link-local IPv6 peer, its
// interface index. Only the accept loop calls it.
func (l *Listener) Accept() (fd int, remote netip.AddrPort, scope uint32, err error) {
	if err := l.raw.Read(l.accept); err != nil {
		return -1, netip.AddrPort{}, 0, err
	}
	if l.errno != 0 {
		return -1, netip.AddrPort{}, 0, l.errno
	}
	remote, scope = rawAddr(&l.sa)
	return l.accepted, remote, scope, nil
}

// Close stops listening: connections not yet accepted are refused (or, under
// SO_REUSEPORT, go to the other listeners), and Accept fails from now on.
func (l *Listener) Close() {
	l.closed.Store(true)
	l.file.Close()
}

// localAddr is the connection's own address: the listening address itself
// unless that is a wildcard, which only getsockname can resolve.
func (l *Listener) localAddr(fd int) (netip.AddrPort, error) {
	if !l.Addr.Addr().IsUnspecified() {
		return l.Addr, nil
	}
	local, _, err := sockName(fd)
	return local, err
}
