// Command ucspi is ucspi-tcp as one binary: run as (or through a symlink named)
// tcpserver, tcprules, addcr... it is that program; run as ucspi, its first
// argument names the applet.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ucspi-go/ucspi/applets"
	_ "github.com/ucspi-go/ucspi/ucspi/startup" // the entry point, -E _rt0_ucspi: docs/process.md
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	s := applets.OSStdio()
	if a := applets.Lookup(filepath.Base(os.Args[0])); a != nil {
		os.Exit(a.Main(os.Args[1:], s))
	}
	if len(os.Args) < 2 {
		list()
		return
	}
	switch os.Args[1] {
	case "--help", "-h", "--list":
		list()
	case "--version":
		fmt.Println("ucspi", version)
	default:
		a := applets.Lookup(os.Args[1])
		if a == nil {
			fmt.Fprintf(os.Stderr, "ucspi: usage: ucspi applet [ arg ... ]: no applet %q; the applets are:\n", os.Args[1])
			for _, a := range applets.All() {
				fmt.Fprintf(os.Stderr, "  %s\n", a.Name)
			}
			os.Exit(100)
		}
		os.Exit(a.Main(os.Args[2:], s))
	}
}

// list prints one line per applet: its name, a tab, its summary. install.sh reads
// the names from here, so the symlinks and the binary always agree.
func list() {
	for _, a := range applets.All() {
		fmt.Printf("%s\t%s\n", a.Name, a.Summary)
	}
}
