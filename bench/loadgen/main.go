// Command loadgen measures a TCP server the way a busy client population sees
// it: N connections, K of them in flight at once, each connecting, sending an
// optional payload, reading to EOF and checking what came back. It prints a
// human summary on stderr and one JSON line on stdout for scripts.
//
//	loadgen -addr 127.0.0.1:8000 -n 20000 -c 8 -expect 'ok\n'
//	loadgen -addr 127.0.0.1:8000 -c 40 -hold 3s     (K connections held open)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Label     string  `json:"label,omitempty"`
	Addr      string  `json:"addr"`
	Conns     int     `json:"conns"`
	InFlight  int     `json:"in_flight"`
	Errors    int64   `json:"errors"`
	Seconds   float64 `json:"seconds"`
	ConnsPerS float64 `json:"conns_per_s"`
	P50us     float64 `json:"p50_us"`
	P90us     float64 `json:"p90_us"`
	P99us     float64 `json:"p99_us"`
	MaxUs     float64 `json:"max_us"`
	FirstErr  string  `json:"first_error,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server `host:port`")
	n := flag.Int("n", 10000, "connections in all")
	k := flag.Int("c", 1, "connections in flight at once")
	payload := flag.String("send", "", "`bytes` to send on each connection before reading (Go string escapes allowed)")
	expect := flag.String("expect", "ok\\n", "`bytes` each connection must return before EOF (Go escapes); \"-\" accepts anything")
	timeout := flag.Duration("timeout", 10*time.Second, "give up on one connection after this long")
	warmup := flag.Int("warmup", 100, "connections made (and not counted) before measuring")
	hold := flag.Duration("hold", 0, "instead of measuring, open -c connections, hold them open this long, close them")
	label := flag.String("label", "", "a label copied into the JSON line")
	from := flag.String("from", "", "connect from this local `address` (a listed client's, say)")
	keepOpen := flag.Bool("keep-open", false, "read to EOF without half-closing first, as a client waiting for a greeting does (HAProxy takes an early FIN for an abort)")
	flag.Parse()

	send, err := unescape(*payload)
	if err != nil {
		fatal("bad -send: %v", err)
	}
	want := []byte(nil)
	if *expect != "-" {
		if want, err = unescape(*expect); err != nil {
			fatal("bad -expect: %v", err)
		}
	}
	if *hold > 0 {
		holdOpen(*addr, *k, *hold, *timeout)
		return
	}

	c := client{addr: *addr, send: send, want: want, timeout: *timeout, halfClose: !*keepOpen}
	c.dialer.Timeout = *timeout
	if *from != "" {
		c.dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(*from)}
	}
	run(&c, *warmup, min(*k, max(*warmup, 1)))
	c.errors.Store(0)
	c.firstErr = atomic.Value{}
	start := time.Now()
	lat := run(&c, *n, *k)
	elapsed := time.Since(start)

	slices.Sort(lat)
	r := result{
		Label: *label, Addr: *addr, Conns: *n, InFlight: *k, Errors: c.errors.Load(),
		Seconds:   elapsed.Seconds(),
		ConnsPerS: float64(*n) / elapsed.Seconds(),
		P50us:     micros(pct(lat, 50)), P90us: micros(pct(lat, 90)),
		P99us: micros(pct(lat, 99)), MaxUs: micros(pct(lat, 100)),
	}
	if e, ok := c.firstErr.Load().(string); ok {
		r.FirstErr = e
	}
	fmt.Fprintf(os.Stderr, "%s %s: %d conns, %d in flight: %.0f conns/s, %d errors; latency p50 %.0fus p90 %.0fus p99 %.0fus max %.0fus\n",
		r.Label, r.Addr, r.Conns, r.InFlight, r.ConnsPerS, r.Errors, r.P50us, r.P90us, r.P99us, r.MaxUs)
	if r.FirstErr != "" {
		fmt.Fprintf(os.Stderr, "first error: %s\n", r.FirstErr)
	}
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
	if r.Errors > 0 {
		os.Exit(1)
	}
}

type client struct {
	addr    string
	dialer  net.Dialer
	send    []byte
	want    []byte
	timeout time.Duration
	// halfClose: shut our side once sent, so that a handler reading to EOF
	// may finish.
	halfClose bool
	errors    atomic.Int64
	firstErr  atomic.Value
}

// run makes n connections with k in flight and returns their latencies.
func run(c *client, n, k int) []time.Duration {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < k; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := c.once(buf); err != nil {
					if c.errors.Add(1) == 1 {
						c.firstErr.Store(err.Error())
					}
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return lat
}

// once is one connection: connect, send, half-close (unless -keep-open),
// read to EOF, compare.
func (c *client) once(buf []byte) error {
	conn, err := c.dialer.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(c.timeout))
	if len(c.send) > 0 {
		if _, err := conn.Write(c.send); err != nil {
			return err
		}
	}
	if c.halfClose {
		conn.(*net.TCPConn).CloseWrite()
	}
	var got []byte
	for {
		m, err := conn.Read(buf)
		got = append(got, buf[:m]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if c.want != nil && !bytes.Equal(got, c.want) {
		return fmt.Errorf("got %q, want %q", clip(got), clip(c.want))
	}
	return nil
}

// holdOpen opens k connections, reads each one's first bytes (so that its
// program is surely running), keeps them open for d, then closes them.
func holdOpen(addr string, k int, d, timeout time.Duration) {
	conns := make([]net.Conn, 0, k)
	buf := make([]byte, 64)
	for i := 0; i < k; i++ {
		conn, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			fatal("connection %d: %v", i, err)
		}
		conn.SetReadDeadline(time.Now().Add(timeout))
		if _, err := conn.Read(buf); err != nil {
			fatal("connection %d: %v", i, err)
		}
		conns = append(conns, conn)
	}
	fmt.Fprintf(os.Stderr, "holding %d connections for %v\n", k, d)
	time.Sleep(d)
	for _, conn := range conns {
		conn.Close()
	}
}

func unescape(s string) ([]byte, error) {
	u, err := strconv.Unquote(`"` + s + `"`)
	return []byte(u), err
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(i, len(sorted))-1)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func clip(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(111)
}
