// Command loadgen measures a TCP server the way a busy client population sees
// it: N connections, K of them in flight at once, each connecting, sending an
// optional payload, reading to EOF and checking what came back. It prints a
// human summary on stderr and one JSON line on stdout for scripts.
//
//	loadgen -addr 127.0.0.1:8000 -n 20000 -c 8 -expect 'ok\n'
//	loadgen -addr 127.0.0.1:8000 -c 40 -hold 3s     (K connections held open)
//	loadgen -tls -addr 127.0.0.1:8443 -n 2000 -c 8  (a full TLS handshake each)
//	loadgen -tls -expect - -n 3 -c 1                (MB/s of what comes back)
package main

import (
	"bytes"
	"crypto/tls"
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
	MBPerS    float64 `json:"mb_per_s,omitempty"`
	Resumed   int64   `json:"resumed,omitempty"`
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
	useTLS := flag.Bool("tls", false, "speak TLS (X25519, any certificate) and close with close_notify")
	tls12 := flag.Bool("tls12", false, "with -tls, TLS 1.2 only")
	resume := flag.Bool("resume", false, "with -tls, resume sessions (one session cache for all connections)")
	halfClose := flag.Bool("halfclose", true, "end our side (FIN, or close_notify) before reading; false: read to the end first")
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

	c := client{addr: *addr, send: send, want: want, timeout: *timeout, halfClose: *halfClose}
	c.dialer.Timeout = *timeout
	if *useTLS {
		// What a C client of OpenSSL 3.0 offers by default: X25519, no
		// post-quantum hybrid (which Go would otherwise prefer).
		c.tls = &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519}}
		if *tls12 {
			c.tls.MaxVersion = tls.VersionTLS12
		}
		if *resume {
			c.tls.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		}
	}
	if *from != "" {
		c.dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(*from)}
	}
	run(&c, *warmup, min(*k, max(*warmup, 1)))
	c.errors.Store(0)
	c.bytes.Store(0)
	c.resumed.Store(0)
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
		Resumed: c.resumed.Load(),
	}
	if want == nil {
		r.MBPerS = float64(c.bytes.Load()) / 1e6 / elapsed.Seconds()
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
	tls     *tls.Config // nil: plain TCP
	// halfClose ends our side before reading (some TLS wrappers cut the
	// program's output short when the client's close_notify comes first).
	halfClose bool
	errors    atomic.Int64
	bytes     atomic.Int64 // read in all
	resumed   atomic.Int64 // TLS sessions resumed
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
			buf := make([]byte, 64<<10)
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

// once is one connection: connect, send, half-close, read to EOF, compare.
func (c *client) once(buf []byte) error {
	conn, err := c.dialer.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(c.timeout))
	var rw interface {
		io.ReadWriter
		CloseWrite() error
	} = conn.(*net.TCPConn)
	if c.tls != nil {
		tc := tls.Client(conn, c.tls)
		if err := tc.Handshake(); err != nil {
			return err
		}
		if tc.ConnectionState().DidResume {
			c.resumed.Add(1)
		}
		rw = tc
	}
	if len(c.send) > 0 {
		if _, err := rw.Write(c.send); err != nil {
			return err
		}
	}
	// Our side is done: a handler reading to EOF may finish now.
	if c.halfClose {
		rw.CloseWrite()
	}
	var got []byte
	for {
		m, err := rw.Read(buf)
		c.bytes.Add(int64(m))
		if c.want != nil {
			got = append(got, buf[:m]...)
		}
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
