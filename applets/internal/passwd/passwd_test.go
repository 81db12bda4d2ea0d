package passwd

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestEntry(t *testing.T) {
	for _, c := range []struct {
		line, name string
		id         uint32
		ok         bool
	}{
		{"qmaild:x:7791:2108:qmail daemon:/var/qmail:/bin/false", "qmaild", 7791, true},
		{"nofiles:x:2108:", "nofiles", 2108, true},
		{"root:x:0:0:root:/root:/bin/sh", "root", 0, true},
		{"big:x:4294967294:1::/:", "big", 4294967294, true},
		{"qmaild:x:7791:2108::/:", "qmail", 0, false},
		{"qmaild:x:7791:2108::/:", "qmaild2", 0, false},
		{"minus:x:4294967295:1::/:", "minus", 0, false}, // (uid_t)-1 means "no id"
		{"huge:x:4294967296:1::/:", "huge", 0, false},
		{"neg:x:-1:1::/:", "neg", 0, false},
		{"plus:x:+1:1::/:", "plus", 0, false},
		{"empty:x::1::/:", "empty", 0, false},
		{"short:x", "short", 0, false},
		{"+nis:x:1:1::/:", "+nis", 0, false},
		{"-nis:x:1:1::/:", "-nis", 0, false},
		{":x:1:1::/:", "", 0, false},
		{"# comment:x:1:", "# comment", 1, true}, // the C library has no comments in these files either
		{"spaced:x: 1:1::/:", "spaced", 0, false},
	} {
		id, ok := Entry(c.line, c.name)
		if id != c.id || ok != c.ok {
			t.Errorf("Entry(%q, %q) = %d, %v; want %d, %v", c.line, c.name, id, ok, c.id, c.ok)
		}
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "passwd")
	groups := filepath.Join(dir, "group")
	os.WriteFile(users, []byte("root:x:0:0:root:/root:/bin/sh\nqmaild:x:7791:2108::/var/qmail:/bin/false\n"+
		"qmaild:x:1:1::/:\nlast:x:42:42::/:"), 0o644) // no final newline
	members := strings.Repeat("member,", 100000) // a line longer than any buffer
	os.WriteFile(groups, []byte("wheel:x:10:"+members+"root\nnofiles:x:2108:\n"), 0o644)
	defer func(u, g string) { UserFile, GroupFile = u, g }(UserFile, GroupFile)
	UserFile, GroupFile = users, groups

	for name, want := range map[string]uint32{"root": 0, "qmaild": 7791, "last": 42} {
		if id, err := UserID(name); err != nil || id != want {
			t.Errorf("UserID(%q) = %d, %v; want %d", name, id, err, want)
		}
	}
	for name, want := range map[string]uint32{"wheel": 10, "nofiles": 2108} {
		if id, err := GroupID(name); err != nil || id != want {
			t.Errorf("GroupID(%q) = %d, %v; want %d", name, id, err, want)
		}
	}
	for _, name := range []string{"nosuch", "", "x", "qmaild:x"} {
		if id, err := UserID(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserID(%q) = %d, %v; want not found", name, id, err)
		}
	}
	UserFile = filepath.Join(dir, "missing")
	if _, err := UserID("root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no file: %v, want not found (a FROM scratch image has none)", err)
	}
	UserFile = dir
	if _, err := UserID("root"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("a directory: %v, want a read error", err)
	}
}

// TestSystemFiles checks the real files the way getent reads them: the ids of
// root and of the first few users agree.
func TestSystemFiles(t *testing.T) {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] == "" || strings.ContainsAny(f[0][:1], "+-") {
			continue
		}
		want, _ := strconv.ParseUint(f[2], 10, 32)
		if id, err := UserID(f[0]); err != nil || uint64(id) != want {
			// An earlier line for the same name wins; that is not an error.
			if first, _ := firstID(data, f[0]); first != f[2] {
				continue
			}
			t.Errorf("UserID(%q) = %d, %v; want %d", f[0], id, err, want)
		}
	}
}

func firstID(data []byte, name string) (string, bool) {
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Split(line, ":"); len(f) >= 3 && f[0] == name {
			return f[2], true
		}
	}
	return "", false
}

// FuzzEntry: an entry is found only on its own line, with the id written there.
// Seeds in testdata/fuzz/FuzzEntry.
func FuzzEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, line, name string) {
		id, ok := Entry(line, name)
		if !ok {
			return
		}
		fields := strings.Split(line, ":")
		want, err := strconv.ParseUint(fields[2], 10, 32)
		if fields[0] != name || err != nil || want != uint64(id) || id == 1<<32-1 {
			t.Fatalf("Entry(%q, %q) = %d", line, name, id)
		}
	})
}
