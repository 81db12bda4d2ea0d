// Command holder opens N connections to a server whose program writes a first
// line and then waits (okprog hold), reads that line on each so that every
// program is surely running, prints one JSON line saying so, and then holds
// them all open until it gets SIGTERM or -max runs out. The benchmark measures
// the server meanwhile, then sends SIGTERM: the holder closes the connections
// a batch at a time, so that 10,000 programs reading their EOF do not all
// exit in the same instant (on a machine others share), and exits.
//
//	holder -addr 127.0.0.1:8000 -n 10000
//	holder -addr 127.0.0.1:8000 -n 10000 -sources 1000   (ten from each of 1,000 addresses)
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server `host:port`")
	n := flag.Int("n", 1000, "connections to hold")
	k := flag.Int("c", 64, "connections being opened at once")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on opening one connection after this long")
	most := flag.Duration("max", 5*time.Minute, "let go after holding this long even if nobody says so")
	batch := flag.Int("batch", 500, "connections closed at once when letting go")
	pause := flag.Duration("pause", 20*time.Millisecond, "pause between batches when letting go")
	useTLS := flag.Bool("tls", false, "make a TLS handshake (any certificate) on each connection first")
	sources := flag.Int("sources", 0, "spread the connections over this many local addresses, 127.1.0.1 onwards (0: the kernel's choice)")
	flag.Parse()
	if *sources < 0 || *sources > 60000 {
		fatal("-sources %d: 0 to 60000", *sources)
	}
	if *useTLS {
		tlsConfig = &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519}}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	// Go raises the soft descriptor limit to the hard one by itself; say so
	// plainly when even that is too few, rather than failing half way.
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < uint64(*n)+16 {
		fatal("descriptor limit %d is too low for %d connections (raise ulimit -n)", lim.Cur, *n)
	}

	conns := make([]net.Conn, *n)
	var next, errors atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < min(*k, *n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				c, err := open(*addr, source(i, *sources), buf, *timeout)
				if err != nil {
					if errors.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()

	r := struct {
		Held     int64   `json:"held"`
		Errors   int64   `json:"errors"`
		Seconds  float64 `json:"seconds"`
		FirstErr string  `json:"first_error,omitempty"`
	}{Held: int64(*n) - errors.Load(), Errors: errors.Load(), Seconds: time.Since(start).Seconds()}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstErr = e
	}
	line, _ := json.Marshal(r)
	fmt.Println(string(line))

	select {
	case <-stop:
	case <-time.After(*most):
	}
	for i, c := range conns {
		if c != nil {
			c.Close()
		}
		if (i+1)%max(*batch, 1) == 0 {
			time.Sleep(*pause)
		}
	}
}

// tlsConfig, set by -tls, makes each connection a TLS one.
var tlsConfig *tls.Config

// source is connection i's local address among n (127.1.0.1 onwards, so
// that every address holds as many as the others), nil for the kernel's choice.
func source(i, n int) net.Addr {
	if n == 0 {
		return nil
	}
	j := i % n
	return &net.TCPAddr{IP: net.IPv4(127, 1, byte(j/250), byte(j%250+1))}
}

// open connects from local (nil: any) and reads the program's first bytes:
// then it is running.
func open(addr string, local net.Addr, buf []byte, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: local}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	if tlsConfig != nil {
		c = tls.Client(c, tlsConfig)
	}
	if _, err := c.Read(buf); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "holder: "+format+"\n", args...)
	os.Exit(111)
}
