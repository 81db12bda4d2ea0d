// Package applets holds the commands of the ucspi multicall binary: each file
// registers one applet (its name, its 0.88 usage line, its options) and keeps only
// the glue between the command line and the shared packages that do the work.
package applets

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	Summary string // one line, for `ucspi --list`
	// Usage is 0.88's usage text after "NAME: usage: ", e.g.
	// "argv0 realname program [ arg ... ]".
	Usage string
	// Setup defines the applet's options on fs and returns the function that runs
	// it once they are parsed. Options are parsed like djb's getopt: combined and
	// attached short options, parsing stops at the first operand or at "--".
	Setup func(fs *pflag.FlagSet) Runner
	// RawArgs marks an applet that, like its 0.88 original, takes no options: every
	// argument, even "-x" or "--help", reaches it untouched.
	RawArgs bool
	// Fuse, for an applet whose whole job is to decide and then exec the rest
	// of its command line (argv0, rblsmtpd), makes that decision inside
	// tcpserver, so that a connection starts one process instead of two: given
	// the applet's arguments and its environment, it returns the file the
	// applet would exec and its argv, or ok false when the applet must run
	// (it would refuse its command line, or do more than exec).
	Fuse func(args []string, getenv func(string) (string, bool)) (file string, argv []string, ok bool)
	// Manual is the man page body: what the applet does, its environment, its exit
	// codes. The synopsis and the options come from Usage and Setup.
	Manual string
}

var registry = map[string]*Applet{}

// Register adds an applet. A name registered twice is a programming error, caught
// at start-up so a typo cannot hide.
func Register(a *Applet) {
	if _, dup := registry[a.Name]; dup {
		panic("applets: " + a.Name + " registered twice")
	}
	registry[a.Name] = a
}

// Lookup returns the applet called name, or nil.
func Lookup(name string) *Applet { return registry[name] }

// All returns every applet, sorted by name.
func All() []*Applet {
	list := make([]*Applet, 0, len(registry))
	for _, a := range registry {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// Command builds the cobra command for a; running it stores the applet's result
// in *result. Main runs it; the man page generator only reads it.
func (a *Applet) Command(s *Stdio, result *error) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   a.Usage,
		Short:                 a.Summary,
		Long:                  a.Manual,
		DisableFlagsInUseLine: true,
		DisableFlagParsing:    a.RawArgs,
		SilenceErrors:         true,
		SilenceUsage:          true,
		CompletionOptions:     cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	cmd.SetIn(s.In)
	cmd.SetOut(s.Out)
	cmd.SetErr(s.Err)
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.SortFlags = false
	// A long-only --help registered first keeps cobra from claiming -h, which
	// tcpserver and tcpclient need for themselves.
	fs.Bool("help", false, "print this help and exit")
	run := func(*Stdio, []string) error { return nil }
	if a.Setup != nil {
		run = a.Setup(fs)
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return optionError(a.Name, s.Err, err)
	})
	cmd.RunE = func(_ *cobra.Command, operands []string) error {
		*result = run(s, operands)
		return nil
	}
	return cmd
}

// Main runs a with args (argv without argv[0]) and returns the process's exit
// status, having printed any failure the 0.88 way.
func (a *Applet) Main(args []string, s *Stdio) int {
	var err error
	cmd := a.Command(s, &err)
	cmd.SetArgs(args)
	if cerr := cmd.Execute(); cerr != nil {
		err = cerr
	}
	return a.report(s.Err, err)
}

// report prints err in 0.88's words and returns the exit status it stands for.
func (a *Applet) report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	e := exit.As(err)
	if e == nil {
		e = exit.Fatal(exit.Temporary, err.Error())
	}
	switch {
	case e.Silent():
	case e.Text == "":
		fmt.Fprintf(w, "%s: usage: %s\n", a.Name, a.Usage)
	default:
		fmt.Fprintf(w, "%s: %s\n", a.Name, e.Text)
	}
	return e.Code
}

// optionError prints getopt's complaint about a bad option and asks for the usage
// line, as djb's sgetopt does.
func optionError(name string, w io.Writer, err error) error {
	switch e := err.(type) {
	case *pflag.NotExistError:
		fmt.Fprintf(w, "%s: illegal option -- %s\n", name, firstOr(e.GetSpecifiedName(), "-"))
	case *pflag.ValueRequiredError:
		fmt.Fprintf(w, "%s: option requires an argument -- %s\n", name, e.GetSpecifiedName())
	default:
		fmt.Fprintf(w, "%s: %v\n", name, err)
	}
	return exit.Usage()
}

func firstOr(s, def string) string {
	if s == "" {
		return def
	}
	return s[:1]
}
