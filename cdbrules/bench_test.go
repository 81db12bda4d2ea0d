package cdbrules

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Compiling the generated 100,000-line file (make bench times a file of the
// same size through both tcprules binaries).
func BenchmarkCompile100k(b *testing.B) {
	rules := generateRules(100000, 1, false)
	dir := b.TempDir()
	path, tmp := filepath.Join(dir, "rules.cdb"), filepath.Join(dir, "rules.tmp")
	b.SetBytes(int64(len(rules)))
	for b.Loop() {
		if err := Compile(bytes.NewReader(rules), path, tmp); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPeer goes through the whole search order down to the default, 14 keys:
// info and host known, an IPv6 address (five prefixes) in a file of IPv4 rules
// (which has a rule for every first octet), a host in no domain of the file.
var benchPeer = Peer{IP: "2001:db8:ffff:1::9", Host: "mail.nowhere.example.invalid", HostKnown: true, Info: "nobody", InfoKnown: true}

func bench100kFile(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "rules.cdb")
	// Without its "=" rules, which match any known host before the default.
	var rules []byte
	for _, line := range bytes.SplitAfter(generateRules(100000, 1, false), []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("=:")) {
			rules = append(rules, line...)
		}
	}
	if err := os.WriteFile(path, compileOurs(b, append(rules, ":allow,DEFAULT=/1/\n"...)), 0644); err != nil {
		b.Fatal(err)
	}
	return path
}

// A lookup on an open, warm file: the whole search order, 12 keys.
func BenchmarkLookup(b *testing.B) {
	r, err := Open(bench100kFile(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	tries := 0
	r.Lookup(benchPeer, func(string) { tries++ })
	for b.Loop() {
		m, err := r.Lookup(benchPeer, nil)
		if err != nil || m.Key != "" || !m.Found {
			b.Fatal(m, err)
		}
	}
	b.ReportMetric(float64(tries), "keys/op")
}

// LookupFile as tcpserver calls it for each connection: open, map, look up the
// whole search order, unmap, close.
func BenchmarkLookupFile(b *testing.B) {
	path := bench100kFile(b)
	for b.Loop() {
		d, err := LookupFile(path, benchPeer)
		if err != nil || d.Key != "" || !d.Found {
			b.Fatal(d, err)
		}
	}
}
