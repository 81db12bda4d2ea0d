// Command report turns the JSON lines of a benchmark run (scripts/bench.sh)
// into Markdown: tables of medians with the ratios ours / reference and ours /
// spawn floor, and the project's targets with what was measured. It writes the
// whole page to -out (docs/bench.md), the headline into the part of -readme
// between <!-- bench:begin --> and <!-- bench:end -->, and the page on stdout.
//
// Two shapes of line are read. loadgen's, whose label is
// "section|row|implementation", gives connections per second (plus p99
// latency and errors); any other line gives a value directly:
//
//	{"section":"Memory and size","row":"idle RSS (kB)","impl":"ours","value":1234}
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// line is either shape; loadgen's has ConnsPerS and Label.
type line struct {
	Label     string   `json:"label"`
	ConnsPerS *float64 `json:"conns_per_s"`
	Conns     int64    `json:"conns"`
	Errors    int64    `json:"errors"`
	P99us     float64  `json:"p99_us"`
	MaxUs     float64  `json:"max_us"`

	Section string  `json:"section"`
	Row     string  `json:"row"`
	Impl    string  `json:"impl"`
	Value   float64 `json:"value"`
}

type samples struct {
	values []float64
	p99s   []float64
	maxUs  float64
	conns  int64
	errors int64
	loads  int // how many of the samples came from loadgen
}

type section struct {
	name  string
	rows  []string
	impls []string
	cells map[[2]string]*samples // row, impl
}

type results struct {
	sections []*section
}

func (r *results) section(name string) *section {
	for _, s := range r.sections {
		if s.name == name {
			return s
		}
	}
	s := &section{name: name, cells: map[[2]string]*samples{}}
	r.sections = append(r.sections, s)
	return s
}

// cell is the samples of impl in the first row of section sec whose name
// begins with row.
func (r *results) cell(sec, row, impl string) *samples {
	for _, s := range r.sections {
		if s.name != sec {
			continue
		}
		for _, name := range s.rows {
			if strings.HasPrefix(name, row) {
				return s.cells[[2]string{name, impl}]
			}
		}
	}
	return nil
}

func (s *section) add(row, impl string) *samples {
	if !slices.Contains(s.rows, row) {
		s.rows = append(s.rows, row)
	}
	if !slices.Contains(s.impls, impl) {
		s.impls = append(s.impls, impl)
	}
	k := [2]string{row, impl}
	if s.cells[k] == nil {
		s.cells[k] = &samples{}
	}
	return s.cells[k]
}

func read(in io.Reader) (*results, error) {
	r := &results{}
	sc := bufio.NewScanner(in)
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(text, &l); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if l.ConnsPerS != nil {
			parts := strings.Split(l.Label, "|")
			if len(parts) != 3 {
				return nil, fmt.Errorf("line %d: loadgen label %q is not section|row|impl", n, l.Label)
			}
			c := r.section(parts[0]).add(parts[1], parts[2])
			c.values = append(c.values, *l.ConnsPerS)
			c.p99s = append(c.p99s, l.P99us)
			c.maxUs = max(c.maxUs, l.MaxUs)
			c.errors += l.Errors
			c.conns += l.Conns
			c.loads++
			continue
		}
		if l.Section == "" || l.Row == "" || l.Impl == "" {
			return nil, fmt.Errorf("line %d: needs section, row and impl", n)
		}
		c := r.section(l.Section).add(l.Row, l.Impl)
		c.values = append(c.values, l.Value)
	}
	return r, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// The implementations, in the order of the columns, and their names there.
var implOrder = []string{"ours", "debian", "floor", "tcpsvd", "busybox"}
var implNames = map[string]string{
	"ours":       "ours",
	"debian":     "Debian 0.88",
	"floor":      "spawn floor",
	"tcpsvd":     "ipsvd tcpsvd",
	"busybox":    "busybox tcpsvd",
	"stunnel":    "stunnel4",
	"tlswrapper": "tcpserver+tlswrapper",
}

// short names, for the ratio columns and the p99 and errors lists.
var implShort = map[string]string{"debian": "Debian", "floor": "floor", "tcpsvd": "ipsvd", "busybox": "busybox"}

func short(impl string) string {
	if n, ok := implShort[impl]; ok {
		return n
	}
	return impl
}

func ordered(impls []string) []string {
	var out []string
	for _, i := range implOrder {
		if slices.Contains(impls, i) {
			out = append(out, i)
		}
	}
	for _, i := range impls {
		if !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

func name(impl string) string {
	if n, ok := implNames[impl]; ok {
		return n
	}
	return impl
}

func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "-"
	case a >= 100 || v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "x"
}

// table writes one section: a column per implementation with the median,
// ours / each reference after it, and for loadgen rows p99 latency and errors.
func (s *section) table(w io.Writer) { s.tableOf(w, ordered(s.impls)) }

// narrow is table without the other servers (the spawn floor, tcpsvd): ours
// against Debian's and the Go floor, narrow enough for a terminal.
func (s *section) narrow(w io.Writer) {
	var impls []string
	for _, i := range ordered(s.impls) {
		if i != "floor" && i != "tcpsvd" && i != "busybox" {
			impls = append(impls, i)
		}
	}
	s.tableOf(w, impls)
}

func (s *section) tableOf(w io.Writer, impls []string) {
	loads := false
	for _, c := range s.cells {
		loads = loads || c.loads > 0
	}
	head := []string{""}
	for _, i := range impls {
		head = append(head, name(i))
		if i != "ours" && slices.Contains(impls, "ours") {
			head = append(head, "ours/"+short(i))
		}
	}
	if loads {
		head = append(head, "p99 ms ("+names(impls)+")", "max ms", "errors")
	}
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat(" --- |", len(head)))
	for _, row := range s.rows {
		med := func(impl string) float64 {
			if c := s.cells[[2]string{row, impl}]; c != nil {
				return median(c.values)
			}
			return math.NaN()
		}
		cells := []string{row}
		for _, i := range impls {
			cells = append(cells, num(med(i)))
			if i != "ours" && slices.Contains(impls, "ours") {
				cells = append(cells, ratio(med("ours"), med(i)))
			}
		}
		if loads {
			var p99, maxes, errs []string
			worst := 0.0
			for _, i := range impls {
				c := s.cells[[2]string{row, i}]
				if c == nil || c.loads == 0 {
					p99, errs = append(p99, "-"), append(errs, "-")
					continue
				}
				p99 = append(p99, num(median(c.p99s)/1000))
				errs = append(errs, strconv.FormatInt(c.errors, 10))
				worst = max(worst, c.maxUs)
			}
			maxes = append(maxes, num(worst/1000))
			cells = append(cells, strings.Join(p99, " / "), strings.Join(maxes, ""), strings.Join(errs, " / "))
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
}

func names(impls []string) string {
	var n []string
	for _, i := range impls {
		n = append(n, short(i))
	}
	return strings.Join(n, " / ")
}

// A target: ours / against in row at least min, or at most most (for costs:
// time, CPU); with p99, ours's p99 latency at most against's; with
// zeroErrors, ours had no errors there; with below, ours's own figure at most
// that (no against).
type target struct {
	below      float64
	what       string
	section    string
	row        string
	against    string
	min        float64
	zeroErrors bool
	most       float64
	p99        bool
	impl       string  // the implementation measured, if not "ours"
	cap        float64 // ours's own figure at most this (no reference)
}

// The targets, by the rows bench.sh writes.
var targets = []target{
	{what: "tcpserver conns/s, 1 in flight, vs Debian", section: "Connections per second", row: "1 in flight", against: "debian", min: 1.1},
	{what: "tcpserver conns/s, 8 in flight, vs Debian", section: "Connections per second", row: "8 in flight", against: "debian", min: 1.1},
	{what: "tcpserver conns/s, 40 in flight, vs Debian", section: "Connections per second", row: "40 in flight", against: "debian", min: 1.1},
	{what: "tcpserver p99, 1 in flight, vs Debian", section: "Connections per second", row: "1 in flight", against: "debian", p99: true},
	{what: "tcpserver p99, 8 in flight, vs Debian", section: "Connections per second", row: "8 in flight", against: "debian", p99: true},
	{what: "tcpserver p99, 40 in flight, vs Debian", section: "Connections per second", row: "40 in flight", against: "debian", p99: true},
	{what: "tcpserver conns/s, 8 in flight, vs spawn floor", section: "Connections per second", row: "8 in flight", against: "floor", min: 0.85},
	{what: "server CPU per connection, 8 in flight, vs Debian", section: "Server CPU per connection (us)", row: "8 in flight", against: "debian", most: 0.7},
	{what: "no errors, 20,000 connections at 40 in flight", section: "Under load", row: "40 in flight", zeroErrors: true},
	{what: "all complete, 200 in flight with -c 40 -b 200", section: "Under load", row: "200 in flight", zeroErrors: true},
	{what: "argv0 chain, 1 in flight, vs Debian", section: "Chains: connections per second", row: "argv0, 1 in flight", against: "debian", min: 1.1},
	{what: "argv0 chain, 8 in flight, vs Debian", section: "Chains: connections per second", row: "argv0, 8 in flight", against: "debian", min: 1.1},
	{what: "rblsmtpd chain (RBLSMTPD empty), 1 in flight, vs Debian", section: "Chains: connections per second", row: "rblsmtpd, RBLSMTPD empty, 1", against: "debian", min: 1.1},
	{what: "rblsmtpd chain (RBLSMTPD empty), 8 in flight, vs Debian", section: "Chains: connections per second", row: "rblsmtpd, RBLSMTPD empty, 8", against: "debian", min: 1.1},
	{what: "rblsmtpd chain (NXDOMAIN), 1 in flight, vs Debian", section: "Chains: connections per second", row: "rblsmtpd, not listed, 1", against: "debian", min: 1.1},
	{what: "rblsmtpd chain (NXDOMAIN), 8 in flight, vs Debian", section: "Chains: connections per second", row: "rblsmtpd, not listed, 8", against: "debian", min: 1.1},
	{what: "qmail-like chain, 1 in flight, vs Debian", section: "Chains: connections per second", row: "qmail-like: -h -x rules, rblsmtpd, 1", against: "debian", min: 1.1},
	{what: "qmail-like chain, 8 in flight, vs Debian", section: "Chains: connections per second", row: "qmail-like: -h -x rules, rblsmtpd, 8", against: "debian", min: 1.1},
	{what: "start-up (static binary) vs the Go floor", section: "Start-up: argv0 /bin/true true (us per run)", row: "argv0", against: "Go floor", most: 1.1},
	{what: "start-up (make's build) vs the Go floor", section: "Start-up: argv0 /bin/true true (us per run)", row: "argv0", against: "Go floor", most: 1.1, impl: "make build"},
	{what: "PROXY v2 behind HAProxy, 8 in flight, vs ours without PROXY", section: "Behind HAProxy: connections per second", row: "8 in flight", against: "ours, no PROXY", min: 0.95},
	{what: "PROXY v2 behind HAProxy, 40 in flight, vs ours without PROXY", section: "Behind HAProxy: connections per second", row: "40 in flight", against: "ours, no PROXY", min: 0.95},
	{what: "PROXY v1 behind HAProxy, 8 in flight, vs ours without PROXY", section: "Behind HAProxy: connections per second", row: "8 in flight", against: "ours, no PROXY", min: 0.95, impl: "ours, PROXY v1"},
	{what: "PROXY v1 behind HAProxy, 40 in flight, vs ours without PROXY", section: "Behind HAProxy: connections per second", row: "40 in flight", against: "ours, no PROXY", min: 0.95, impl: "ours, PROXY v1"},
	{what: "PROXY v2 behind HAProxy, 8 in flight, vs Debian's", section: "Behind HAProxy: connections per second", row: "8 in flight", against: "debian", min: 1.0},
	{what: "PROXY v2 behind HAProxy, 40 in flight, vs Debian's", section: "Behind HAProxy: connections per second", row: "40 in flight", against: "debian", min: 1.0},
	{what: "PROXY v1 behind HAProxy, 8 in flight, vs Debian's", section: "Behind HAProxy: connections per second", row: "8 in flight", against: "debian", min: 1.0, impl: "ours, PROXY v1"},
	{what: "PROXY v1 behind HAProxy, 40 in flight, vs Debian's", section: "Behind HAProxy: connections per second", row: "40 in flight", against: "debian", min: 1.0, impl: "ours, PROXY v1"},
	{what: "-C 1000 -x vs -x, 8 in flight", section: "Per-IP limits: connections per second (ours is -C 1000 -x)", row: "8 in flight", against: "ours, -x only", min: 0.97},
	{what: "-C 1000 -x vs -x, 40 in flight", section: "Per-IP limits: connections per second (ours is -C 1000 -x)", row: "40 in flight", against: "ours, -x only", min: 0.97},
	{what: "per-IP record per running program, bytes (10,000 from 1,000 addresses)", section: "Per-IP record (ours is -C 1000 -x)", row: "the record per running program", cap: 64},
	{what: "two --reuse-port servers vs one, 40 in flight", section: "Shared port (--reuse-port): connections per second", row: "40 in flight", against: "ours, one server", min: 0.95},
	{what: "addcr throughput vs Debian", section: "Streams and rules", row: "addcr (MB/s)", against: "debian", min: 1.0},
	{what: "delcr throughput vs Debian", section: "Streams and rules", row: "delcr (MB/s)", against: "debian", min: 1.0},
	{what: "tcprules compile vs Debian", section: "Streams and rules", row: "tcprules compile (lines/s)", against: "debian", min: 1.0},
}

// sslserver's targets (issue 17): twice stunnel's and the tlswrapper chain's
// connections per second at every level, p99 at most stunnel's, stunnel's
// throughput, 64 KB per held connection, and its CPU per connection besides
// the handshake at most 1.3 times plain tcpserver's.
func init() {
	for _, cert := range []string{"ECDSA P-256", "RSA-2048"} {
		for _, level := range []string{"1", "8", "40"} {
			row := level + " in flight"
			targets = append(targets,
				target{what: "sslserver conns/s, " + cert + ", " + row + ", vs stunnel", section: "TLS: connections per second, " + cert, row: row, against: "stunnel", min: 2},
				target{what: "sslserver p99, " + cert + ", " + row + ", vs stunnel", section: "TLS: connections per second, " + cert, row: row, against: "stunnel", p99: true},
				target{what: "sslserver TLS 1.2 conns/s, " + cert + ", " + row + ", vs tcpserver+tlswrapper", section: "TLS 1.2: connections per second, " + cert, row: row, against: "tlswrapper", min: 2})
		}
	}
	targets = append(targets,
		target{what: "sslserver program-to-client MB/s vs stunnel", section: "TLS: 100 MB from the program to the client (MB/s)", row: "one connection", against: "stunnel", min: 1},
		target{what: "sslserver memory per held TLS connection (bytes)", section: "TLS: memory, 1000 connections held", row: "server memory per held connection", below: 64 << 10},
		target{what: "sslserver CPU per connection besides the handshake vs plain tcpserver", section: "TLS: server CPU per connection (us), ECDSA P-256", row: "8 in flight", impl: "ours minus handshake", against: "tcpserver", most: 1.3})
}

// A ceiling: ours in row at most max, in the row's unit (a resident set in kB).
type ceiling struct {
	what, section, row string
	max                float64
}

// The ceilings (12: memory at rest).
var ceilings = []ceiling{
	{"tcpserver RSS idle at most 4 MB", "Memory and size", "server RSS, idle (kB)", 4096},
	{"tcpserver RSS under load at most 6 MB", "Memory and size", "server RSS under load, median", 6144},
}

func (r *results) targets(w io.Writer) {
	fmt.Fprintln(w, "| target | measured | met |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, t := range targets {
		impl := t.impl
		if impl == "" {
			impl = "ours"
		}
		ours := r.cell(t.section, t.row, impl)
		ref := r.cell(t.section, t.row, t.against)
		measured, met := "not measured", "-"
		switch {
		case ours == nil:
		case t.below > 0:
			v := median(ours.values)
			measured = fmt.Sprintf("%s (want <= %s)", num(v), num(t.below))
			met = yes(v <= t.below)
		case t.zeroErrors:
			measured = fmt.Sprintf("%d errors in %d connections (%s conns/s, slowest %s ms)", ours.errors, ours.conns, num(median(ours.values)), num(ours.maxUs/1000))
			met = yes(ours.errors == 0)
		case t.cap > 0:
			measured = fmt.Sprintf("%s (want <= %s)", num(median(ours.values)), num(t.cap))
			met = yes(median(ours.values) <= t.cap)
		case ref == nil:
		case t.p99:
			a, b := median(ours.p99s)/1000, median(ref.p99s)/1000
			measured = fmt.Sprintf("%s ms against %s ms (want at most theirs)", num(a), num(b))
			if lo, hi, ok := spread(ours.p99s, ref.p99s); ok {
				measured += fmt.Sprintf("; round by round %.2fx to %.2fx", lo, hi)
			}
			met = yes(a <= b)
		default:
			q := median(ours.values) / median(ref.values)
			if t.most > 0 {
				measured = fmt.Sprintf("%.2fx (want <= %.2fx)", q, t.most)
				met = yes(q <= t.most)
			} else {
				measured = fmt.Sprintf("%.2fx (want >= %.2fx)", q, t.min)
				met = yes(q >= t.min)
			}
			if lo, hi, ok := spread(ours.values, ref.values); ok {
				measured += fmt.Sprintf("; round by round %.2fx to %.2fx", lo, hi)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.what, measured, met)
	}
	for _, c := range ceilings {
		measured, met := "not measured", "-"
		if ours := r.cell(c.section, c.row, "ours"); ours != nil {
			measured = fmt.Sprintf("%s (want <= %s)", num(median(ours.values)), num(c.max))
			met = yes(median(ours.values) <= c.max)
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", c.what, measured, met)
	}
}

// spread is the least and the greatest of the ratios a[i] / b[i]: the
// runs of one round were made one after the other, so each pair saw the
// machine alike, and the range says how far one round can be trusted.
func spread(a, b []float64) (lo, hi float64, ok bool) {
	if len(a) < 2 || len(a) != len(b) {
		return 0, 0, false
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for i := range a {
		if b[i] == 0 {
			return 0, 0, false
		}
		lo, hi = min(lo, a[i]/b[i]), max(hi, a[i]/b[i])
	}
	return lo, hi, true
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// machine describes where the figures come from.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		kernel = "Linux " + cstring(u.Release[:])
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf(", %.0f GB RAM", kb/1024/1024)
			}
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s, %s", runtime.NumCPU(), model, mem, kernel, runtime.Version())
}

func cstring(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

const begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"

func main() {
	out := flag.String("out", "", "write the Markdown page to this `file`")
	readme := flag.String("readme", "", "put the headline between the bench markers of this `file`")
	link := flag.String("link", "docs/bench.md", "where the README's headline links to")
	config := flag.String("config", "", "the run's settings, quoted in the page")
	load0 := flag.String("load", "", "the load average when the run began")
	took := flag.Duration("took", 0, "how long the run took")
	version := flag.String("version", "", "the version of ucspi measured")
	flag.Parse()

	in := io.Reader(os.Stdin)
	if flag.NArg() > 0 {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		in = f
	}
	r, err := read(in)
	if err != nil {
		fatal(err)
	}

	var head bytes.Buffer
	fmt.Fprintf(&head, "Measured %s on %s.\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&head, "ucspi %s; load average %s at the start, %s at the end", *version, *load0, loadavg())
	if *took > 0 {
		fmt.Fprintf(&head, "; the run took %s", took.Round(time.Second))
	}
	fmt.Fprintln(&head, ".")

	var page bytes.Buffer
	fmt.Fprintln(&page, "# Benchmarks")
	fmt.Fprintln(&page)
	fmt.Fprintln(&page, "Generated by `make bench` (scripts/bench.sh and bench/report); do not edit by hand.")
	fmt.Fprintln(&page)
	page.Write(head.Bytes())
	if *config != "" {
		fmt.Fprintf(&page, "Settings: `%s`.\n", *config)
	}
	fmt.Fprintln(&page)
	fmt.Fprintln(&page, "## Targets")
	fmt.Fprintln(&page)
	r.targets(&page)
	for _, s := range r.sections {
		fmt.Fprintln(&page)
		fmt.Fprintln(&page, "## "+s.name)
		fmt.Fprintln(&page)
		s.table(&page)
	}
	fmt.Fprintln(&page)
	page.WriteString(howToRead)

	os.Stdout.Write(page.Bytes())
	if *out != "" {
		if err := os.WriteFile(*out, page.Bytes(), 0o644); err != nil {
			fatal(err)
		}
	}
	if *readme != "" {
		var h bytes.Buffer
		h.Write(head.Bytes())
		fmt.Fprintf(&h, "All figures, the machine and how to read them: [%s](%s).\n\n", *link, *link)
		r.targets(&h)
		for _, s := range r.sections {
			if !inReadme(s.name) {
				continue
			}
			fmt.Fprintln(&h)
			fmt.Fprintln(&h, "**"+s.name+"**")
			fmt.Fprintln(&h)
			s.narrow(&h)
		}
		fmt.Fprintf(&h, "\nTLS, PROXY protocol, per-IP limits and --reuse-port: their targets are above, their tables in [%s](%s).\n", *link, *link)
		if err := splice(*readme, h.Bytes()); err != nil {
			fatal(err)
		}
	}
}

// inReadme says whether a section's table goes into the README too: those of
// 0.88's tools; the extensions' stay in docs/bench.md, their targets in both.
func inReadme(section string) bool {
	for _, p := range []string{"TLS", "Behind HAProxy", "Per-IP", "Shared port"} {
		if strings.HasPrefix(section, p) {
			return false
		}
	}
	return true
}

// splice replaces what lies between the markers in file by text.
func splice(file string, text []byte) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte(begin))
	j := bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s ... %s section", file, begin, end)
	}
	var n bytes.Buffer
	n.Write(b[:i+len(begin)])
	n.WriteString("\n")
	n.Write(text)
	n.Write(b[j:])
	return os.WriteFile(file, n.Bytes(), 0o644)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(111)
}

const howToRead = `## How to read this

Every figure is the median of the rounds run (one run for the scale rows).
The servers were run in rounds, each round running every implementation at
each level one after the other (ours, Debian's, the floor, tcpsvd, ...), so
that whatever else the machine was doing hurt all of them alike; on a shared
machine single runs vary by 30% or more, medians much less.

- *ours/Debian* is ours divided by Debian's figure in the same row: above 1 is
  better for rates (connections/s, MB/s, lines/s, lookups/s), below 1 is better
  for sizes and memory (kB).
- *spawn floor* is bench/spawnfloor.c: a C server that accepts and
  posix_spawns the handler with nothing else (no environment variables, no
  logging, no options); no tcpserver can be much faster than it.
- Every server runs the same handler, bench/okprog.c (static C: writes "ok\n"
  and exits), with ` + "`-R -H -l0`" + ` (no ident, no DNS) for the tcpservers and
  ` + "`-l 0`" + ` for tcpsvd; the client is bench/loadgen over loopback, which
  checks every reply. p99 and max are the client's latency per connection,
  connect to EOF; a max near 1000 ms is a SYN that found the backlog full and
  was sent again a second later.
- At 40 in flight every server runs at its limit (-c 40), and in the
  connections, HAProxy, per-IP and shared-port sections with -b 4096
  (BACKLOG40), ours, Debian's and the floor alike. With the default backlog
  of 20, a connection whose slot the server has not yet freed (its program
  exited, not yet collected) waits in the backlog, and when more than 20
  wait the kernel drops the SYN: that client stalls for a second, and a
  round measured how many drops it happened to have (0.63x to 1.83x
  between rounds). The under-load and memory rows keep the default.
- tcprulescheck runs as a new process for each lookup, so its row is mostly
  process start: a static Go binary's runtime start costs about 2 ms of CPU
  on this kind of machine, a small C program's about 0.5 ms.
- Memory is the server's own resident set (VmRSS), not its programs'.
  Under load it is split into anonymous pages (the process's own: heap,
  stacks, data) and file-backed ones (its binary's and libraries' pages,
  shared with every process running them): a fault maps a whole folio of
  the page cache, 64 kB for ours as make writes it (internal/lazybss), so
  that a 4 kB page run maps its neighbours too. The
  binary size of ours is the whole static, stripped ucspi (every applet); the
  others are the files as Debian installs them, dynamically linked (libc not
  counted).
- Server CPU per connection is the time the server process's threads ran
  over a run (their schedstat, in nanoseconds), divided by its connections:
  for Debian's that includes the fork of each child, for ours the whole
  per-connection path and the vfork.
- Chains run tcpserver in front of argv0 or rblsmtpd in front of okprog, each
  implementation with its own argv0 and rblsmtpd. Ours does their work inside
  the server where they would only decide and exec (docs/tcpserver.md,
  "Fusion"); "not listed" asks bench/dnsd, a DNS server on loopback, which
  answers NXDOMAIN; "qmail-like" adds -h and a rules cdb; "-h -p" runs okprog
  alone with a reverse and a forward lookup per connection, asked of dnsd. In
  the spam flood,
  100 clients from 127.0.0.2 (listed, rejected at once with -t 0) and 100
  from 127.0.0.1 (not listed) share -c 40.
- Start-up is bench/startup.c spawning the command and waiting for it, N
  times: argv0 /bin/true true for ours (the static binary, and the default
  make build), for bench/gofloor (a static Go program that only execs: the
  floor for any Go program), for the same program linking every standard
  package ucspi links ("Go floor, our std": their init functions run at every
  start, whatever the applet; crypto/tls and its dependencies are most of
  them) and for Debian's argv0 (dynamic C).
- TLS: sslserver (-R -H -l0 -c 40 -b 4096, TCP_NODELAY by default as
  ucspi-ssl) against
  stunnel4 (exec = okprog: stunnel forks a process per connection, which
  runs okprog) and Debian's tcpserver -DRHl0 running tlswrapper in front of
  okprog (BearSSL, TLS 1.2 only; ours at TLS 1.2 too in that section), all
  with the same fresh self-signed certificate, ECDSA P-256 or RSA-2048. The
  client is loadgen -tls (Go's crypto/tls offering X25519 only, as OpenSSL
  3.0 clients do), a full handshake per connection unless "resumed", reading
  to the end before closing. The 100 MB row is one connection at a time whose
  program is /bin/cat of a 100 MB file. Memory is the growth of the PSS of
  the server's own processes (for stunnel, every stunnel process, not
  okprog) from none held to N held, divided by N. CPU: sslserver's own time
  per connection, in interleaved rounds; "handshake alone" is bench/tlsfloor, a Go server that only
  accepts, makes the handshake and writes "ok\n"; "ours minus handshake" is
  what the spawn, the socketpair and the relay add, to set against plain
  tcpserver's whole cost. With RSA-2048 the handshake is most of the cost,
  and Go's RSA signature takes about 3.5 times OpenSSL's (0.75 ms against
  0.21 ms on this kind of machine): stunnel's handshakes are cheaper there.
- Scale: the server runs with a limit of 100 more than the connections held,
  so that the connections on top have room; held connections are okprog
  waiting for EOF. Per held connection is the growth of the server's RSS
  from none held, divided by the number held.
`
