package ucspi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// The connecting side of tcpclient: which addresses a host stands for, the
// -T x+y connection attempts over them, the -i/-p binding, and what the
// program is told about the connection once it is made.

// Client is how tcpclient connects and describes the connection.
type Client struct {
	// IPv4Only (-4) keeps IPv6 out: "0" is 127.0.0.1, names are looked up for
	// A records only, an IPv6 literal has no IPv4 address.
	IPv4Only bool
	// Force6 (-6) is ucspi-tcp-ipv6's forced IPv6 mode: "0" is ::1 (unless
	// IPv4Only), names are looked up for AAAA and A records, and the
	// environment is in TCP6 form even for an IPv4 peer.
	Force6 bool

	Local     netip.Addr // -i; the zero Addr leaves the choice to the kernel
	LocalPort uint16     // -p
	Interface string     // -I: the interface (name or index) of a link-local address
	// Timeout is -T x+y in seconds: every address is tried for x seconds, then
	// those that timed out are tried again for y.
	Timeout [2]uint64
	NoDelay bool // -D

	LocalName   *string       // -l; nil means look the local address up
	RemoteHost  bool          // -h: look the remote address up
	RemoteInfo  bool          // -r: ask the remote ident server
	InfoTimeout time.Duration // -t

	Resolver *dns.Resolver
	// Warn receives the line for each address that could not be reached
	// ("unable to connect to 127.0.0.1 port 16: connection refused"); nil
	// drops them.
	Warn io.Writer
	// Name starts Warn's lines: "tcpclient" when empty, or "sslclient".
	Name string
}

// Socket is an established connection: a non-blocking, close-on-exec
// socket and both ends' addresses.
type Socket struct {
	FD            int
	Local, Remote netip.AddrPort
}

// Addrs returns the addresses host stands for, in the order Connect should try
// them. "" and "0" are the local host. A name with a colon is an IPv6
// literal, bracketed or not. Any other name is completed as djb's
// dns_ip4_qualify completes it (the rules of /etc/dnsrewrite, $LOCALDOMAIN or
// resolv.conf's search line), then read as dns_ip4 reads it: digits, dots and
// brackets make IPv4 addresses ("127.000.000.001" and "[127.0.0.1]" are
// 127.0.0.1), other names are looked up in the DNS (A records; under -6 AAAA
// then A), each family in djb's random order.
func (c *Client) Addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	if host == "" || host == "0" {
		if c.Force6 && !c.IPv4Only {
			return []netip.Addr{netip.IPv6Loopback()}, nil
		}
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	}
	fam := v4Names
	switch {
	case c.IPv4Only:
		fam = v4Only
	case c.Force6:
		fam = v6First
	}
	return hostAddrs(ctx, c.resolver(), host, true, fam)
}

func (c *Client) resolver() *dns.Resolver {
	if c.Resolver == nil {
		c.Resolver = dns.New()
	}
	return c.Resolver
}

// Connect tries addrs in order as 0.88 does: each for Timeout[0] seconds,
// writing a warning for every address that fails otherwise; then the ones
// that timed out, again, for Timeout[1] seconds each. A single address gets
// both timeouts at once. If none answers, the result is a silent exit 111:
// the warnings have said it all.
func (c *Client) Connect(addrs []netip.Addr, port uint16) (*Socket, error) {
	timeout := c.Timeout
	if len(addrs) == 1 {
		timeout = [2]uint64{timeout[0] + timeout[1], 0}
	}
	for round := range 2 {
		var again []netip.Addr
		for _, ip := range addrs {
			fd, err := c.attempt(ip, port, timeout[round])
			if err == nil {
				return c.established(fd)
			}
			if exit.As(err) != nil {
				return nil, err
			}
			if round == 0 && timeout[1] != 0 && errors.Is(err, syscall.ETIMEDOUT) {
				again = append(again, ip)
				continue
			}
			if c.Warn != nil {
				fmt.Fprintf(c.Warn, "%s: unable to connect to %s port %d: %s\n", cmp.Or(c.Name, "tcpclient"), IPText(ip), port, exit.Reason(err))
			}
		}
		addrs = again
	}
	return nil, exit.Status(exit.Temporary)
}

// attempt makes one connection attempt bounded by seconds. Failing to create
// or bind the socket is fatal (an *exit.Error); failing to connect is not.
func (c *Client) attempt(ip netip.Addr, port uint16, seconds uint64) (int, error) {
	local := c.Local
	// An IPv6 socket can reach IPv4 through a mapped address, not the other way
	// round, so a socket with an IPv6 end on either side is an IPv6 one.
	six := ip.Is6() || (local.IsValid() && local.Is6() && !local.Is4In6())
	family := unix.AF_INET
	if six {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, exit.FatalSys(exit.Temporary, err, "unable to create socket: ")
	}
	if six {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	if local.IsValid() || c.LocalPort != 0 {
		if !local.IsValid() {
			local = netip.IPv4Unspecified()
		}
		if err := unix.Bind(fd, c.sockaddr(local, c.LocalPort, six)); err != nil {
			unix.Close(fd)
			return -1, exit.FatalSys(exit.Temporary, err, "unable to bind socket: ")
		}
	}
	if err := connectWithin(fd, c.sockaddr(ip, port, six), seconds); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// sockaddr is ip:port for a socket of the given family, an IPv4 address
// mapped into IPv6 for an IPv6 socket.
func (c *Client) sockaddr(ip netip.Addr, port uint16, six bool) unix.Sockaddr {
	if !six {
		return &unix.SockaddrInet4{Port: int(port), Addr: ip.Unmap().As4()}
	}
	if ip.Is4() {
		ip = netip.AddrFrom16(ip.As16())
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: ip.As16(), ZoneId: scopeID(ip, c.Interface)}
}

// connectWithin is djb's timeoutconn: a non-blocking connect, then a wait for
// the socket to become writable, giving up after seconds (ETIMEDOUT) while the
// kernel's attempt is abandoned with the socket.
func connectWithin(fd int, sa unix.Sockaddr, seconds uint64) error {
	err := unix.Connect(fd, sa)
	if err == nil {
		return nil
	}
	if err != unix.EINPROGRESS && err != unix.EAGAIN && err != unix.EINTR {
		return err
	}
	deadline := time.Now().Add(time.Duration(min(seconds, 1<<31)) * time.Second)
	for {
		wait := time.Until(deadline)
		if wait < 0 {
			wait = 0
		}
		ms := int((wait + time.Millisecond - 1) / time.Millisecond)
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, ms)
		if err != nil && err != unix.EINTR {
			return err
		}
		if n > 0 {
			break
		}
		if !time.Now().Before(deadline) {
			return syscall.ETIMEDOUT
		}
	}
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if soerr != 0 {
		return syscall.Errno(soerr)
	}
	return nil
}

// established reads both ends' addresses of the connected socket.
func (c *Client) established(fd int) (*Socket, error) {
	if c.NoDelay {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) // if it fails, bummer (0.88)
	}
	conn := &Socket{FD: fd}
	var err error
	if conn.Local, _, err = sockName(fd); err != nil {
		unix.Close(fd)
		return nil, exit.FatalSys(exit.Temporary, err, "unable to get local address: ")
	}
	if conn.Remote, _, err = peerName(fd); err != nil {
		unix.Close(fd)
		return nil, exit.FatalSys(exit.Temporary, err, "unable to get remote address: ")
	}
	return conn, nil
}

// Environment returns what the program learns about conn: the UCSPI variables
// in 0.88's order, looking up the names and the remote user as asked.
func (c *Client) Environment(ctx context.Context, conn *Socket) []string {
	// -6 shows an IPv4 connection as ucspi-tcp-ipv6's tcpclient -6 did, as the
	// IPv6 socket it made it on: PROTO=TCP6 and mapped addresses.
	desc := Description{Local: conn.Local, Remote: conn.Remote, LocalHost: c.LocalName, Force6: c.Force6}
	if desc.LocalHost == nil {
		desc.LocalHost = c.hostName(ctx, conn.Local.Addr())
	}
	if c.RemoteHost {
		desc.RemoteHost = c.hostName(ctx, conn.Remote.Addr())
	}
	if c.RemoteInfo {
		if info, err := RemoteInfo(conn.Local, conn.Remote, c.InfoTimeout); err == nil {
			desc.RemoteInfo = Known(info)
		}
	}
	return desc.Vars()
}

// RemoteIPText is the remote address as the environment (and tcpclient -v)
// shows it.
func (c *Client) RemoteIPText(conn *Socket) string {
	ip := conn.Remote.Addr().Unmap()
	if c.Force6 && ip.Is4() {
		return netip.AddrFrom16(ip.As16()).String()
	}
	return IPText(ip)
}

// hostName is what djb's dns_name4 gives for ip: its first PTR name, "" when
// the DNS says it has none, nil (unknown) when the lookup failed.
func (c *Client) hostName(ctx context.Context, ip netip.Addr) *string {
	name, err := c.resolver().Name(ctx, ip)
	if err != nil {
		return nil
	}
	return Known(name)
}

// Blocking clears O_NONBLOCK on fd, for the program that inherits it: 0.88's
// programs read and write descriptors 6 and 7 expecting to wait.
func Blocking(fd int) error { return unix.SetNonblock(fd, false) }
