package ucspi

import (
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// tcpclient --proxy-send: tcpclient run by a tcpserver (a relay, a
// forwarder) tells the next server whose connection it relays.

// InheritedConnection is the connection an outer tcpserver described in the
// environment: TCPREMOTEIP:TCPREMOTEPORT and TCPLOCALIP:TCPLOCALPORT. Both
// are the zero AddrPort when any of the four is missing or not an address or
// a port.
func InheritedConnection(getenv func(string) string) (remote, local netip.AddrPort) {
	addr := func(ip, port string) (netip.AddrPort, bool) {
		a, err := netip.ParseAddr(getenv(ip))
		p, err2 := strconv.ParseUint(getenv(port), 10, 16)
		if err != nil || err2 != nil || a.Zone() != "" {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a, uint16(p)), true
	}
	remote, ok1 := addr("TCPREMOTEIP", "TCPREMOTEPORT")
	local, ok2 := addr("TCPLOCALIP", "TCPLOCALPORT")
	if !ok1 || !ok2 {
		return netip.AddrPort{}, netip.AddrPort{}
	}
	return remote, local
}

// SendAll writes b on a fresh connection, a non-blocking socket: a header
// fits in its empty send buffer, so the wait for room is there only for
// form's sake, and bounded.
func SendAll(fd int, b []byte) error {
	deadline := time.Now().Add(10 * time.Second)
	for len(b) > 0 {
		n, err := unix.SendmsgN(fd, b, nil, nil, unix.MSG_NOSIGNAL)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			wait := time.Until(deadline)
			if wait <= 0 {
				return unix.ETIMEDOUT
			}
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, int(wait/time.Millisecond)+1)
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}
