// Package fakeserver runs the small TCP servers tests talk to: it listens on a
// loopback address, hands every connection to a handler in a goroutine of its
// own, and stops when the test ends.
package fakeserver

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Serve listens on addr ("127.0.0.1:0" for any port) and runs handle for each
// connection, closing it afterwards; it skips the test when it cannot listen
// (a port below 1024 without root, say).
func Serve(t testing.TB, addr string, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln
}

// Port is the port ln listens on.
func Port(ln net.Listener) uint16 {
	return netip.MustParseAddrPort(ln.Addr().String()).Port()
}

// Ident answers RFC 1413 questions ("remoteport , localport") on ip:113 with
// the question, " : " and answer (e.g. "USERID : UNIX : joe"); an empty answer
// never comes, so the asker times out.
func Ident(t testing.TB, ip, answer string) {
	t.Helper()
	Serve(t, net.JoinHostPort(ip, "113"), func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		q, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || answer == "" {
			c.Read(make([]byte, 1)) // hold on until the asker gives up
			return
		}
		fmt.Fprintf(c, "%s : %s\r\n", strings.TrimSpace(q), answer)
	})
}

// BacklogFull listens on an IPv4 ip, any port, with a backlog of 0 and never
// accepts, then fills the queue, so that further connection attempts time out.
// It returns the port.
func BacklogFull(t testing.TB, ip string) uint16 {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	a := netip.MustParseAddr(ip).As4()
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: a}); err != nil {
		t.Skip(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	p := sa.(*unix.SockaddrInet4).Port
	for range 3 {
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(c) })
		unix.Connect(c, &unix.SockaddrInet4{Addr: a, Port: p})
	}
	time.Sleep(100 * time.Millisecond)
	return uint16(p)
}
