// Package applets holds the commands of the ucspi multicall binary: each file
// registers one applet (its name, its 0.88 usage line, its options, its manual)
// and keeps only the glue between the command line and the shared packages that
// do the work.
package applets

import (
	"io"
	"os"
	"sort"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// Stdio is an applet's standard input, output and error. Applets that hand their
// descriptors to another program use os.Stdin and friends directly instead.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// OSStdio is the process's own standard descriptors.
func OSStdio() *Stdio { return &Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Runner runs an applet with the operands left after its options.
type Runner func(s *Stdio, operands []string) error

// Applet is one command of the binary.
type Applet struct {
	Name    string
	Summary string // one line, for `ucspi --list` and the manual's NAME
	// Usage is 0.88's usage text after "NAME: usage: ", e.g.
	// "argv0 realname program [ arg ... ]".
	Usage string
	// Setup defines the applet's options on fs and returns the function that runs
	// it once they are parsed. Options are parsed like djb's getopt (see getopt).
	Setup func(fs *pflag.FlagSet) Runner
	// RawArgs marks an applet that, like its 0.88 original, takes no options: every
	// argument, even "-x", reaches it untouched. Options its Setup defines are
	// documentation (and completion) only; the applet reads them itself.
	RawArgs bool
	// Fuse, for an applet whose whole job is to decide and then exec the rest
	// of its command line (argv0, rblsmtpd), makes that decision inside
	// tcpserver, so that a connection starts one process instead of two: given
	// the applet's arguments and its environment, it returns what the applet
	// would do instead of running (see ucspi.Fused), or ok false when the
	// applet must run (it would refuse its command line, or do more than exec).
	Fuse func(args []string, getenv func(string) (string, bool)) (step ucspi.Fused, ok bool)
	// Manual is the text of the man page and of --help.
	Manual Manual
}

// registry is every applet, in the order registered: a list, not a map, since
// every start builds it and reads one name (a map of twenty cost allocations
// and hashing at each start of each applet for nothing).
var registry []*Applet

// Register adds an applet. A name registered twice is a programming error, caught
// at start-up so a typo cannot hide.
func Register(a *Applet) {
	if Lookup(a.Name) != nil {
		panic("applets: " + a.Name + " registered twice")
	}
	if registry == nil {
		registry = make([]*Applet, 0, 32)
	}
	registry = append(registry, a)
}

// registerPlain registers an applet that, like its 0.88 original, takes no
// options at all: run gets every argument as it was given.
func registerPlain(a *Applet, run Runner) {
	a.RawArgs = true
	a.Setup = func(*pflag.FlagSet) Runner { return run }
	Register(a)
}

// Lookup returns the applet called name, or nil.
func Lookup(name string) *Applet {
	for _, a := range registry {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// All returns every applet, sorted by name.
func All() []*Applet {
	list := append([]*Applet(nil), registry...)
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// flags returns a's options, defined on a fresh set, and the function that runs
// a once they are parsed.
func (a *Applet) flags() (*pflag.FlagSet, Runner) {
	fs := pflag.NewFlagSet(a.Name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	run := Runner(func(*Stdio, []string) error { return nil })
	if a.Setup != nil {
		run = a.Setup(fs)
	}
	return fs, run
}

// Main runs a with args (argv without argv[0]) and returns the process's exit
// status, having printed any failure the 0.88 way. "--help" as the only
// argument prints the manual instead, for every applet: no 0.88 program could
// do anything useful with that command line.
func (a *Applet) Main(args []string, s *Stdio) int {
	if len(args) == 1 && args[0] == "--help" {
		if err := a.WriteHelp(s.Out); err != nil {
			return a.report(s.Err, exit.FatalSys(exit.Temporary, err, "unable to write output: "))
		}
		return 0
	}
	fs, run := a.flags()
	operands := args
	if !a.RawArgs {
		var err error
		if operands, err = getopt(fs, args); err != nil {
			return a.report(s.Err, err)
		}
	}
	return a.report(s.Err, run(s, operands))
}

// report prints err in 0.88's words, under a's name, and returns the exit status
// it stands for. It is the one place where a failure becomes a message.
func (a *Applet) report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	e := exit.As(err)
	if e == nil {
		e = exit.Fatal(exit.Temporary, err.Error())
	}
	var msg []byte
	if e.Kind != exit.Silent && e.Text != "" {
		msg = append(msg, a.Name+": "+e.Text+"\n"...)
	}
	if e.Kind == exit.UsageLine {
		msg = append(msg, a.Name+": usage: "+a.Usage+"\n"...)
	}
	if len(msg) > 0 {
		w.Write(msg) // in one write, as 0.88's buffered stderr sent it
	}
	return e.Code
}

// quiet is -q for tcpserver and tcpclient: as 0.88, no message at all, not even
// the usage line, and the exit status unchanged.
func quiet(err error) error {
	if err == nil {
		return nil
	}
	if e := exit.As(err); e != nil {
		return exit.Status(e.Code)
	}
	return exit.Status(exit.Temporary)
}
