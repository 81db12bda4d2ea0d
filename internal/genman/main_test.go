package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/applets"
)

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man", "man1")
	if err := write(dir, "1.0"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(applets.All()) {
		t.Errorf("%d pages for %d applets", len(entries), len(applets.All()))
	}
	for _, a := range applets.All() {
		b, err := os.ReadFile(filepath.Join(dir, a.Name+".1"))
		if err != nil || !strings.Contains(string(b), `" 1 "" "ucspi 1.0"`) {
			t.Errorf("%s.1: %v %.80q", a.Name, err, b)
		}
	}
	if err := write(filepath.Join(dir, "tcpserver.1"), "1.0"); err == nil {
		t.Error("writing into a file as a directory did not fail")
	}
}
