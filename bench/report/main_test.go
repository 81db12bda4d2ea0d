package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `
{"label":"Connections per second|8 in flight|ours","conns":1000,"errors":0,"conns_per_s":100,"p99_us":2000,"max_us":5000}
{"label":"Connections per second|8 in flight|debian","conns":1000,"errors":1,"conns_per_s":100,"p99_us":4000,"max_us":9000}
{"label":"Connections per second|8 in flight|ours","conns":1000,"errors":0,"conns_per_s":300,"p99_us":1000,"max_us":3000}
{"label":"Connections per second|8 in flight|debian","conns":1000,"errors":0,"conns_per_s":100,"p99_us":3000,"max_us":3000}
{"label":"Connections per second|8 in flight|ours","conns":1000,"errors":0,"conns_per_s":200,"p99_us":3000,"max_us":4000}
{"label":"Connections per second|8 in flight|debian","conns":1000,"errors":0,"conns_per_s":100,"p99_us":5000,"max_us":6000}
{"label":"Under load|40 in flight, 20000 connections|ours","conns":20000,"errors":2,"conns_per_s":1500,"p99_us":1000,"max_us":1000}
{"section":"Memory and size","row":"server RSS, idle (kB)","impl":"ours","value":4000}
{"section":"Memory and size","row":"server RSS, idle (kB)","impl":"debian","value":1000}
{"section":"Memory and size","row":"server RSS under load, median (kB)","impl":"ours","value":6000}
{"section":"Memory and size","row":"server RSS under load, median (kB)","impl":"ours","value":6500}
{"section":"Start-up: argv0 /bin/true true (us per run)","row":"argv0","impl":"ours","value":1200}
{"section":"Start-up: argv0 /bin/true true (us per run)","row":"argv0","impl":"make build","value":1400}
{"section":"Start-up: argv0 /bin/true true (us per run)","row":"argv0","impl":"Go floor","value":1200}
`

func TestReadBothShapes(t *testing.T) {
	r, err := read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.sections) != 4 {
		t.Fatalf("%d sections, want 4", len(r.sections))
	}
	c := r.cell("Connections per second", "8 in flight", "debian")
	if c == nil || len(c.values) != 3 || c.errors != 1 || c.conns != 3000 || c.maxUs != 9000 || c.loads != 3 {
		t.Fatalf("debian at 8: %+v", c)
	}
	if c := r.cell("Memory and size", "server RSS", "ours"); c == nil || c.values[0] != 4000 || c.loads != 0 {
		t.Fatalf("RSS row by prefix: %+v", c)
	}
	if c := r.cell("Memory and size", "binary", "ours"); c != nil {
		t.Fatalf("a row that is not there: %+v", c)
	}
}

func TestReadRejects(t *testing.T) {
	for _, in := range []string{
		`{"label":"no bars","conns_per_s":1}`,
		`{"section":"s","row":"r","value":1}`,
		`{not json`,
	} {
		if _, err := read(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := median(nil); got == got {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestTargetsAndTables(t *testing.T) {
	r, err := read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.targets(&b)
	out := b.String()
	for _, want := range []string{
		"| tcpserver conns/s, 8 in flight, vs Debian | 2.00x (want >= 1.10x); round by round 1.00x to 3.00x | yes |",
		"| tcpserver p99, 8 in flight, vs Debian | 2 ms against 4 ms (want at most theirs); round by round 0.33x to 0.60x | yes |",
		"| start-up (static binary) vs the Go floor | 1.00x (want <= 1.10x) | yes |",
		"| start-up (make's build) vs the Go floor | 1.17x (want <= 1.10x) | **no** |",
		"| tcpserver conns/s, 1 in flight, vs Debian | not measured | - |",
		"| no errors, 20,000 connections at 40 in flight | 2 errors in 20000 connections (1500 conns/s, slowest 1 ms) | **no** |",
		"| tcpserver RSS idle at most 4 MB | 4000 (want <= 4096) | yes |",
		"| tcpserver RSS under load at most 6 MB | 6250 (want <= 6144) | **no** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("targets lack %q:\n%s", want, out)
		}
	}

	b.Reset()
	r.sections[0].table(&b)
	out = b.String()
	for _, want := range []string{
		"|  | ours | Debian 0.88 | ours/Debian | p99 ms (ours / Debian) | max ms | errors |",
		"| 8 in flight | 200 | 100 | 2.00x | 2 / 4 | 9 | 0 / 1 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	r.sections[2].table(&b)
	if want := "| server RSS, idle (kB) | 4000 | 1000 | 4.00x |"; !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
}

func TestSplice(t *testing.T) {
	f := filepath.Join(t.TempDir(), "README.md")
	os.WriteFile(f, []byte("# x\n\n"+begin+"\nold\n"+end+"\ntail\n"), 0o644)
	if err := splice(f, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f)
	if want := "# x\n\n" + begin + "\nnew\n" + end + "\ntail\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	os.WriteFile(f, []byte("no markers\n"), 0o644)
	if err := splice(f, []byte("new\n")); err == nil {
		t.Error("no error without markers")
	}
}

func TestNarrowLeavesOutTheOtherServers(t *testing.T) {
	r, err := read(strings.NewReader(`
{"label":"Connections per second|1 in flight|ours","conns":10,"conns_per_s":200,"p99_us":1000}
{"label":"Connections per second|1 in flight|debian","conns":10,"conns_per_s":100,"p99_us":2000}
{"label":"Connections per second|1 in flight|floor","conns":10,"conns_per_s":250,"p99_us":900}
`))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.sections[0].narrow(&b)
	if want := "|  | ours | Debian 0.88 | ours/Debian | p99 ms (ours / Debian) | max ms | errors |\n"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("narrow table:\n%s\nwant it to begin %q", b.String(), want)
	}
	b.Reset()
	r.sections[0].table(&b)
	if !strings.Contains(b.String(), "spawn floor") {
		t.Errorf("the whole table lacks the floor:\n%s", b.String())
	}
}

// TestOwnFigureTargets: a target on ours's own figure (a cap) and one between
// two of ours (with and without a feature).
func TestOwnFigureTargets(t *testing.T) {
	in := `{"section":"Per-IP record (ours is -C 1000 -x)","row":"the record per running program (bytes), 10000 from 1000 addresses (BenchmarkIPRecord)","impl":"ours","value":38.2}
{"label":"Behind HAProxy: connections per second|8 in flight|ours","conns":100,"errors":0,"conns_per_s":96,"p99_us":1,"max_us":1}
{"label":"Behind HAProxy: connections per second|8 in flight|ours, no PROXY","conns":100,"errors":0,"conns_per_s":100,"p99_us":1,"max_us":1}
{"label":"Behind HAProxy: connections per second|8 in flight|ours, PROXY v1","conns":100,"errors":0,"conns_per_s":90,"p99_us":1,"max_us":1}
`
	r, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.targets(&b)
	for _, want := range []string{
		"| per-IP record per running program, bytes (10,000 from 1,000 addresses) | 38.2 (want <= 64) | yes |",
		"| PROXY v2 behind HAProxy, 8 in flight, vs ours without PROXY | 0.96x (want >= 0.95x) | yes |",
		"| PROXY v1 behind HAProxy, 8 in flight, vs ours without PROXY | 0.90x (want >= 0.95x) | **no** |",
		"| PROXY v2 behind HAProxy, 40 in flight, vs ours without PROXY | not measured | - |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("targets lack %q:\n%s", want, b.String())
		}
	}
}
