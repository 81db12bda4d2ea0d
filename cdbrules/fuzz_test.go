package cdbrules

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ucspi-go/ucspi/cdbrules/cdb"
)

// FuzzReader: any bytes as a cdb, any key and peer: an answer or an error,
// never a panic or a hang. The seed corpus (testdata/fuzz/FuzzReader) holds
// valid files, truncated ones and ones with tables pointing everywhere.
func FuzzReader(f *testing.F) {
	valid := compileOurs(f, []byte("xyz@86.75.30.9:allow,which=/first/\n86.75.30.:deny\n=.two.three:allow,a=/b/\n:allow\n"))
	f.Add(valid, []byte("86.75.30.9"), []byte("one.two.three"))
	f.Add(valid[:2100], []byte("86.75.30.9"), []byte(""))
	f.Add([]byte{}, []byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, file, ip, host []byte) {
		// A lookup tries a key per dot of the host, each as long as the host:
		// quadratic, as in 0.88, and harmless at a DNS name's 255 bytes, but
		// the fuzzer's megabyte names would only measure that.
		if len(ip) > 1024 || len(host) > 1024 {
			return
		}
		r := newRules(file)
		tries := 0
		m, err := r.Lookup(Peer{IP: string(ip), Host: string(host), HostKnown: len(host) > 0, Info: "xyz", InfoKnown: true}, func(string) { tries++ })
		if err != nil && !errors.Is(err, cdb.ErrFormat) {
			t.Fatalf("error %v is not a format error", err)
		}
		if err == nil && m.Found {
			m.Decision()
		}
		if max := 5 + 2*len(ip) + 2*len(host); tries > max {
			t.Fatalf("%d keys tried, more than %d", tries, max)
		}
	})
}

// FuzzParseLine: any line parses or is refused, never a panic; a line that
// parses compiles into records that our reader finds again, each key with the
// line's value; Check says the same about the line as Compile.
func FuzzParseLine(f *testing.F) {
	for _, s := range append(append([]string{}, smallCases...), smallCases6...) {
		f.Add([]byte(s))
	}
	f.Add([]byte("10.0.0.0/8:allow,X=/y/\n"))
	f.Add([]byte("2001:db8::/33:deny\n"))
	f.Add([]byte("2001:db8:0:1::/64:deny\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		addr, value, ok, err := parseLine(line, nil)
		if err != nil || !ok {
			return
		}
		if bytes.Count(value, []byte{0}) == 0 && len(value) > 0 {
			t.Fatalf("value %q has no NUL", value)
		}
		file, err := os.Create(filepath.Join(t.TempDir(), "rules.cdb"))
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		w, _ := cdb.NewWriter(file)
		var emitted [][]byte
		kerr := keys(addr, nil, func(k []byte) error {
			emitted = append(emitted, bytes.Clone(k))
			return w.Add(k, value)
		})
		fatal := false
		if cerr := Check(bytes.NewReader(line), func(p Problem) { fatal = fatal || p.Fatal }); cerr != nil {
			t.Fatal(cerr)
		}
		if fatal != (kerr != nil) {
			t.Fatalf("Check fatal %v, keys error %v", fatal, kerr)
		}
		if kerr != nil {
			return
		}
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
		written, err := os.ReadFile(file.Name())
		if err != nil {
			t.Fatal(err)
		}
		reader := newRules(written)
		for _, k := range emitted {
			data, found, err := reader.r.Find(k)
			if err != nil || !found || !bytes.Equal(data, value) {
				t.Fatalf("key %q: %q %v %v, want %q", k, data, found, err, value)
			}
		}
	})
}
