// Package layout checks that the tree keeps the shape docs/architecture.md
// draws: which package may import which. It reads every Go file's imports, so
// a new import against the picture fails here before review.
package layout

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ucspi-go/ucspi"

// allowed says whether product code in package dir (relative to the root, "."
// for main) may import path, following docs/architecture.md.
func allowed(dir, path string) bool {
	ours, isOurs := strings.CutPrefix(path, module+"/")
	rig := under(dir, "internal") || under(dir, "bench")
	if !isOurs && rig {
		return true // test rigs may use the oracles
	}
	if !isOurs {
		switch {
		case !strings.Contains(strings.SplitN(path, "/", 2)[0], "."):
			return true // the standard library
		case strings.HasPrefix(path, "golang.org/x/"):
			return true
		case strings.HasPrefix(path, "github.com/spf13/"):
			return under(dir, "applets") || under(dir, "internal/genman")
		}
		return false // colinmarc/cdb and miekg/dns are test oracles only
	}
	leaf := ours == "ucspi/exit" || ours == "ucspi/scan"
	switch {
	case dir == "ucspi/exit" || dir == "ucspi/scan":
		return false
	case dir == ".":
		return ours == "applets"
	case under(dir, "cdbrules"):
		return under(ours, "cdbrules") || leaf
	case under(dir, "ucspi"):
		return under(ours, "ucspi") || under(ours, "cdbrules")
	case under(dir, "applets"):
		return under(ours, "applets") || under(ours, "ucspi") || under(ours, "cdbrules")
	case rig:
		return !under(ours, "applets/internal")
	}
	return false
}

func under(dir, top string) bool { return dir == top || strings.HasPrefix(dir, top+"/") }

func TestImportsFollowTheArchitecture(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		dir = filepath.ToSlash(dir)
		for _, spec := range f.Imports {
			path, _ := strconv.Unquote(spec.Path.Value)
			checked++
			if !allowed(dir, path) {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s imports %s, against docs/architecture.md", rel, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d imports checked: is the walk reading the tree?", checked)
	}
}

// The rule itself must refuse what the picture forbids, or the walk above
// could pass by accepting everything.
func TestTheRuleRefuses(t *testing.T) {
	for _, c := range []struct{ dir, path string }{
		{"cdbrules", module + "/ucspi"},
		{"cdbrules/cdb", module + "/ucspi/dns"},
		{"ucspi", module + "/applets"},
		{"ucspi/dns", module + "/applets/internal/rblsmtpd"},
		{"ucspi", module + "/internal/fakedns"},
		{"ucspi/scan", module + "/ucspi/exit"},
		{".", module + "/ucspi"},
		{"ucspi", "github.com/spf13/cobra"},
		{"cdbrules", "github.com/colinmarc/cdb"},
		{"ucspi/dns", "github.com/miekg/dns"},
	} {
		if allowed(c.dir, c.path) {
			t.Errorf("%s may import %s, but the architecture forbids it", c.dir, c.path)
		}
	}
	if _, err := os.Stat("../../docs/architecture.md"); err != nil {
		t.Errorf("the picture this test enforces is missing: %v", err)
	}
}
