package ucspi

import (
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// tcpserver's messages on stderr, in 0.88's shapes. Verbosity 0 (-q) prints
// nothing, 1 (-Q) warnings, 2 (-v) also the status and per-connection lines.
// Each event's lines go out in one write, so that lines never interleave.
// Every line starts with the server's name: tcpserver, or sslserver.

// Exit statuses 0.88's child would have ended with, for the "end" line of a
// connection that never got a program: denied (exit 100) or dropped (exit 111).
const (
	deniedStatus  = 100 << 8
	droppedStatus = 111 << 8
)

type logger struct {
	verbosity int
	name      string // "tcpserver" or "sslserver"
}

func (l *logger) verbose() bool { return l.verbosity >= 2 }

// write puts b on stderr, whole, with plain blocking write(2)s as 0.88 did,
// made raw (RawSyscall): through the runtime's system call state every line
// would wake its monitor thread (see startup.ChildSignals). A log reader that
// stalls stalls the server, as it did 0.88's, with or without the runtime:
// the lines are written under the children's lock.
func (l *logger) write(b []byte) {
	for len(b) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, 2, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			b = b[n:]
		case syscall.EINTR:
		case syscall.EAGAIN: // someone made stderr non-blocking: the runtime waits
			os.Stderr.Write(b)
			return
		default: // EPIPE (SIGPIPE is caught), EBADF: as 0.88, nothing more
			return
		}
	}
}

// appendName starts a line: "tcpserver: ".
func (l *logger) appendName(b []byte) []byte {
	b = append(b, l.name...)
	return append(b, ": "...)
}

// appendStatus adds "tcpserver: status: N/LIMIT".
func (l *logger) appendStatus(b []byte, n, limit uint64) []byte {
	b = append(l.appendName(b), "status: "...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, limit, 10)
	return append(b, '\n')
}

// appendEnd adds "tcpserver: end P status WSTAT".
func (l *logger) appendEnd(b []byte, pid int, wstat uint32) []byte {
	b = append(l.appendName(b), "end "...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, " status "...)
	b = strconv.AppendUint(b, uint64(wstat), 10)
	return append(b, '\n')
}

// appendFrom adds "tcpserver: pid P from IP".
func (l *logger) appendFrom(b []byte, pid int, remote string) []byte {
	b = append(l.appendName(b), "pid "...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, " from "...)
	b = append(b, remote...)
	return append(b, '\n')
}

// appendVerdict adds 0.88's "ok" or "deny" line:
// "tcpserver: ok P LOCALHOST:LOCALIP:LOCALPORT REMOTEHOST:REMOTEIP:REMOTEINFO:REMOTEPORT".
// Names go through safe; IPv6 addresses keep their colons, as ucspi-tcp-ipv6
// prints them.
func (l *logger) appendVerdict(b []byte, verdict string, pid int, c *Description) []byte {
	b = append(l.appendName(b), verdict...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, ' ')
	b = appendOptional(b, c.LocalHost)
	b = append(b, ':')
	b = appendIP(b, c.Local.Addr(), c.Force6)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.Local.Port()), 10)
	b = append(b, ' ')
	b = appendOptional(b, c.RemoteHost)
	b = append(b, ':')
	b = appendIP(b, c.Remote.Addr(), c.Force6)
	b = append(b, ':')
	b = appendOptional(b, c.RemoteInfo)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.Remote.Port()), 10)
	return append(b, '\n')
}

func appendOptional(b []byte, s *string) []byte {
	if s == nil {
		return b
	}
	return appendSafe(b, *s)
}

// appendIP adds ip as the log shows it: a dotted quad for an IPv4 peer, the
// compact IPv6 form (IPv4-mapped under -6) otherwise.
func appendIP(b []byte, ip netip.Addr, force6 bool) []byte {
	if force6 && ip.Is4() {
		ip = netip.AddrFrom16(ip.As16())
	}
	if !force6 {
		ip = ip.Unmap()
	}
	return ip.AppendTo(b)
}

// ipText is the remote address in the "pid P from IP" line.
func ipText(ip netip.Addr, force6 bool) string {
	return string(appendIP(nil, ip, force6))
}

// appendSafe is 0.88's safecats: at most 100 characters, anything outside
// '!'..'~' and the characters '%' and ':' shown as '?', "..." after a long one.
func appendSafe(b []byte, s string) []byte {
	for i := 0; i < 100; i++ {
		if i == len(s) || s[i] == 0 {
			return b
		}
		ch := s[i]
		if ch < 33 || ch > 126 || ch == '%' || ch == ':' {
			ch = '?'
		}
		b = append(b, ch)
	}
	return append(b, "..."...)
}

// appendDrop adds the warning for a connection dropped before its program ran:
// "tcpserver: warning: dropping connection, WHAT: REASON".
func (l *logger) appendDrop(b []byte, what string, err error) []byte {
	b = append(l.appendName(b), "warning: dropping connection, "...)
	b = append(b, what...)
	if err != nil {
		b = append(b, exit.Reason(err)...)
	}
	return append(b, '\n')
}
