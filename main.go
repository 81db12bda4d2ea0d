// Command ucspi is ucspi-tcp as one binary. Which program it is comes, in
// order, from the name of the file executed (the path given to execve, so a
// symlink's own name), from argv[0], and else from its first argument: run as
// tcpserver (a link or a copy of that name, whatever argv[0] says) it is
// tcpserver; run as ucspi, `ucspi tcpserver ...` is tcpserver.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ucspi-go/ucspi/applets"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	s := applets.OSStdio()
	if a, args := applets.Identify(applets.ExecPath(), os.Args); a != nil {
		os.Exit(a.Main(args, s))
	}
	os.Exit(ucspi(os.Args[1:], s))
}

// ucspi is the binary under its own name, its first argument naming no applet,
// and returns the exit status.
func ucspi(args []string, s *applets.Stdio) int {
	if len(args) == 0 {
		help(s.Err)
		return 100
	}
	switch arg := args[0]; {
	case arg == "--help" || arg == "-h":
		help(s.Out)
	case arg == "--list":
		// One line per applet: its name, a tab, its summary. install.sh reads
		// the names from here, so the links and the binary always agree.
		for _, a := range applets.All() {
			fmt.Fprintf(s.Out, "%s\t%s\n", a.Name, a.Summary)
		}
	case arg == "--version":
		fmt.Fprintln(s.Out, "ucspi", version)
	case applets.IsCompletion(arg):
		return applets.Complete(args, s)
	default:
		fmt.Fprintf(s.Err, "ucspi: no applet %q\n", arg)
		help(s.Err)
		return 100
	}
	return 0
}

// help prints the usage line, the applets and ucspi's own options.
func help(w io.Writer) {
	fmt.Fprint(w, `usage: ucspi applet [ arg ... ]
   or: applet [ arg ... ]    (through a link or a copy named after the applet)

applets:
`)
	for _, a := range applets.All() {
		fmt.Fprintf(w, "  %-14s %s\n", a.Name, a.Summary)
	}
	fmt.Fprint(w, `
  applet --help                   print the applet's manual
  ucspi --list                    print the applets, one a line, for scripts
  ucspi --version                 print the version
  ucspi completion bash|zsh|fish  print a completion script for the shell
`)
}
