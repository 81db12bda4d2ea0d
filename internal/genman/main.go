// Command genman writes a man page for every applet into the directory given as
// its argument, from the same Applet records that print the usage lines, so the
// two cannot drift. `make man` runs it.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra/doc"

	"github.com/ucspi-go/ucspi/applets"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "genman: usage: genman dir")
		os.Exit(100)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "genman: fatal:", err)
		os.Exit(111)
	}
	for _, a := range applets.All() {
		// A fresh header each time: GenMan fills in the title of the first
		// command it sees and would reuse it for every later page.
		header := &doc.GenManHeader{Section: "1", Source: "ucspi", Manual: "ucspi-tcp compatible tools"}
		var result error
		cmd := a.Command(applets.OSStdio(), &result)
		cmd.DisableAutoGenTag = true
		f, err := os.Create(filepath.Join(dir, a.Name+".1"))
		if err == nil {
			err = doc.GenMan(cmd, header, f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "genman: fatal:", err)
			os.Exit(111)
		}
	}
}
