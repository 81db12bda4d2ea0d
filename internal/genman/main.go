// Command genman writes a man page for every applet into the directory given as
// its first argument, from the same Applet records that print the usage lines and
// --help, so that none of them can drift. `make man` runs it with the version as
// its second argument.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ucspi-go/ucspi/applets"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "genman: usage: genman dir version")
		os.Exit(100)
	}
	if err := write(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "genman: fatal:", err)
		os.Exit(111)
	}
}

// write puts NAME.1 for every applet into dir.
func write(dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, a := range applets.All() {
		f, err := os.Create(filepath.Join(dir, a.Name+".1"))
		if err != nil {
			return err
		}
		err = a.WriteMan(f, version)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
