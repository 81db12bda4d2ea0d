package applets

import (
	"embed"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// `ucspi completion bash|zsh|fish` and the shells' requests for candidates,
// `ucspi __complete WORDS...`: cobra's protocol and cobra's scripts, without
// cobra in the binary. Linking cobra (and the text/template, regexp and
// reflection it brings) cost every start of every applet about a quarter of a
// millisecond, a sixth of a Go program's whole start, for a command run once
// per login shell. The scripts are cobra's output, kept in completion/; the
// candidates are computed here as cobra computed them for the command tree it
// was given (ucspi, one subcommand per applet with its options, and
// completion). TestCompletionAgainstCobra holds both to cobra itself.

// completionUsage is `ucspi completion`'s usage text.
const completionUsage = "ucspi completion bash|zsh|fish"

// The names of cobra's protocol.
const (
	completeRequest       = "__complete"       // candidates with descriptions
	completeRequestNoDesc = "__completeNoDesc" // candidates alone
)

//go:embed completion/ucspi.bash completion/ucspi.zsh completion/ucspi.fish
var completionScripts embed.FS

// IsCompletion reports whether `ucspi arg ...` is for Complete: `ucspi
// completion SHELL`, or a shell's request for candidates, which the scripts
// make as `ucspi __complete WORDS...` (cobra's protocol).
func IsCompletion(arg string) bool {
	return arg == "completion" || strings.HasPrefix(arg, completeRequest)
}

// Complete runs `ucspi ARGS...` for which IsCompletion holds and returns the
// exit status. The candidates are the applet names after ucspi, and each
// applet's options after its name, from the same records that parse them.
func Complete(args []string, s *Stdio) int {
	switch args[0] {
	case "completion":
		return completionCommand(args[1:], s)
	case completeRequest, completeRequestNoDesc:
		if len(args) < 2 {
			break
		}
		complete(args[1:], args[0] == completeRequestNoDesc, s)
		return 0
	}
	ucspi := &Applet{Name: "ucspi", Usage: completionUsage}
	return ucspi.report(s.Err, exit.Usage())
}

// completionHelp is what `ucspi completion --help` printed (cobra's help).
const completionHelp = `print a completion script for the shell

Usage:
  ucspi completion bash|zsh|fish [flags]

Flags:
  -h, --help   help for completion
`

// completionCommand is `ucspi completion ARGS...`: one shell's script.
func completionCommand(args []string, s *Stdio) int {
	cmd := completionCmd()
	err := cmd.flags.Parse(args)
	if help, _ := cmd.flags.GetBool("help"); err == nil && help {
		io.WriteString(s.Out, completionHelp)
		return 0
	}
	if shell := cmd.flags.Args(); err == nil && len(shell) == 1 && (shell[0] == "bash" || shell[0] == "zsh" || shell[0] == "fish") {
		script, _ := completionScripts.ReadFile("completion/ucspi." + shell[0])
		if _, err := s.Out.Write(script); err != nil {
			ucspi := &Applet{Name: "ucspi", Usage: completionUsage}
			return ucspi.report(s.Err, exit.FatalSys(exit.Temporary, err, "unable to write output: "))
		}
		return 0
	}
	ucspi := &Applet{Name: "ucspi", Usage: completionUsage}
	return ucspi.report(s.Err, exit.Usage())
}

// compCmd is a command of the tree cobra was given: ucspi, its subcommands
// (the applets, completion, the hidden help command cobra added and the
// hidden __complete), with their options.
type compCmd struct {
	name, short string
	flags       *pflag.FlagSet
	// byCobra: the help flag is cobra's own (-h, --help), whose presence
	// ends the completion.
	byCobra bool
	// validArgs are the candidates for the first operand.
	validArgs []string
	// rawArgs: cobra's __complete, which parses no options.
	rawArgs bool
	subs    []*compCmd // sorted by name, as cobra lists them
	// helpCmd is the root's help command, offered though it is hidden.
	helpCmd *compCmd
	hidden  bool
	// calledAs is the name find last found __complete by.
	calledAs string
}

func newFlags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// cobraHelp is the flag cobra adds to a command that has none called help.
func cobraHelp(c *compCmd) *compCmd {
	c.flags.BoolP("help", "h", false, "help for "+c.name)
	c.byCobra = true
	return c
}

func completionCmd() *compCmd {
	c := &compCmd{name: "completion", short: "print a completion script for the shell", flags: newFlags("completion"),
		validArgs: []string{"bash", "zsh", "fish"}}
	return cobraHelp(c)
}

// completionTree is the whole tree, as cobra saw it at `ucspi __complete`.
func completionTree() *compCmd {
	root := &compCmd{name: "ucspi", flags: newFlags("ucspi")}
	root.flags.Bool("help", false, "print the usage line and the applets")
	root.flags.Bool("version", false, "print the version")
	root.flags.Bool("list", false, "list the applets, one a line, with their summaries")
	for _, a := range All() { // sorted by name, as are the others' places below
		sub := &compCmd{name: a.Name, short: a.Summary, flags: newFlags(a.Name)}
		fs := sub.flags
		fs.SortFlags = false
		fs.Bool("help", false, "as the only argument: print the manual")
		if a.Setup != nil {
			a.Setup(fs)
		}
		fs.VisitAll(func(f *pflag.Flag) { _, f.Usage = pflag.UnquoteUsage(f) })
		root.subs = append(root.subs, sub)
	}
	root.helpCmd = cobraHelp(&compCmd{name: "no-help", flags: newFlags("no-help"), hidden: true})
	request := cobraHelp(&compCmd{name: completeRequest, flags: newFlags(completeRequest), rawArgs: true, hidden: true})
	root.subs = insertSorted(root.subs, completionCmd(), root.helpCmd, request)
	return root
}

func insertSorted(list []*compCmd, more ...*compCmd) []*compCmd {
	for _, c := range more {
		i := 0
		for i < len(list) && list[i].name < c.name {
			i++
		}
		list = append(list[:i], append([]*compCmd{c}, list[i:]...)...)
	}
	return list
}

// The directives cobra's scripts read after the candidates.
const (
	directiveDefault    = 0
	directiveNoSpace    = 2
	directiveNoFileComp = 4
)

func directiveName(d int) string {
	var names []string
	if d&directiveNoSpace != 0 {
		names = append(names, "ShellCompDirectiveNoSpace")
	}
	if d&directiveNoFileComp != 0 {
		names = append(names, "ShellCompDirectiveNoFileComp")
	}
	if len(names) == 0 {
		return "ShellCompDirectiveDefault"
	}
	return strings.Join(names, ", ")
}

// complete answers `ucspi __complete WORDS...`: the candidates for the last
// word, one a line (with a tab and a description unless noDesc), then
// ":DIRECTIVE"; on standard error, what went wrong and the directive's name.
func complete(words []string, noDesc bool, s *Stdio) {
	root := completionTree()
	candidates, directive, err := candidatesFor(root, words)
	if err != nil {
		fmt.Fprintf(s.Err, "[Debug] [Error] %s\n", err) // cobra's words
	}
	for _, sub := range root.subs {
		if sub.calledAs != "" { // as cobra: the name it was last found by, a request's words included
			noDesc = sub.calledAs == completeRequestNoDesc
		}
	}
	if !noDesc {
		v := os.Getenv("UCSPI_COMPLETION_DESCRIPTIONS")
		if v == "" {
			v = os.Getenv("COBRA_COMPLETION_DESCRIPTIONS")
		}
		if desc, err := strconv.ParseBool(v); err == nil {
			noDesc = !desc
		}
	}
	var b strings.Builder
	for _, c := range candidates {
		if noDesc {
			c, _, _ = strings.Cut(c, "\t")
		}
		c, _, _ = strings.Cut(c, "\n")
		b.WriteString(strings.TrimSpace(c) + "\n")
	}
	fmt.Fprintf(&b, ":%d\n", directive)
	io.WriteString(s.Out, b.String())
	fmt.Fprintf(s.Err, "Completion ended with directive: %s\n", directiveName(directive))
}

// candidatesFor is cobra's getCompletions for the tree at root.
func candidatesFor(root *compCmd, words []string) ([]string, int, error) {
	toComplete, args := words[len(words)-1], words[:len(words)-1]
	cmd, args, ok := root.find(args)
	if !ok {
		return nil, directiveDefault, fmt.Errorf("unable to find a command for arguments: %v", words[:len(words)-1])
	}
	flag, args, toComplete, flagErr := cmd.flagToComplete(args, toComplete)

	// After "--", no option names are offered.
	optionNames := true
	if !cmd.rawArgs {
		cmd.flags.Parse(append(args[:len(args):len(args)], "--"))
		n := cmd.flags.NArg()
		if err := cmd.flags.Parse(args); err != nil {
			return nil, directiveDefault, fmt.Errorf("Error while parsing flags from args %v: %s", args, err.Error())
		}
		optionNames = n <= cmd.flags.NArg()
		args = cmd.flags.Args()
	}
	if flagErr != nil && optionNames {
		return nil, directiveDefault, flagErr
	}
	if cmd.byCobra && cmd.flags.Lookup("help").Changed {
		return nil, directiveNoFileComp, nil
	}

	var candidates []string
	if flag == nil && strings.HasPrefix(toComplete, "-") && !strings.Contains(toComplete, "=") && optionNames {
		cmd.flags.VisitAll(func(f *pflag.Flag) {
			if f.Changed && !acceptsMore(f) || f.Hidden || f.Deprecated != "" {
				return
			}
			if name := "--" + f.Name; strings.HasPrefix(name, toComplete) {
				candidates = append(candidates, name+"\t"+f.Usage)
			}
			if name := "-" + f.Shorthand; f.Shorthand != "" && strings.HasPrefix(name, toComplete) {
				candidates = append(candidates, name+"\t"+f.Usage)
			}
		})
		return candidates, directiveNoFileComp, nil
	}
	directive := directiveDefault
	if flag != nil {
		return nil, directive, nil
	}
	optionGiven := false
	if !cmd.rawArgs {
		cmd.flags.Visit(func(*pflag.Flag) { optionGiven = true })
	}
	if len(args) == 0 && !optionGiven {
		for _, sub := range cmd.subs {
			if !sub.hidden || sub == cmd.helpCmd {
				if strings.HasPrefix(sub.name, toComplete) {
					candidates = append(candidates, sub.name+"\t"+sub.short)
				}
				directive = directiveNoFileComp
			}
		}
	}
	if len(cmd.validArgs) > 0 && len(args) == 0 {
		for _, v := range cmd.validArgs {
			if strings.HasPrefix(v, toComplete) {
				candidates = append(candidates, v)
			}
		}
		directive = directiveNoFileComp
	}
	return candidates, directive, nil
}

// find is cobra's Command.Find: the subcommand args name, past the options of
// each command on the way, and the arguments left for it. It fails where
// operands are left for ucspi itself, which takes none.
func (c *compCmd) find(args []string) (*compCmd, []string, bool) {
	for {
		names := c.stripFlags(args)
		if len(names) == 0 {
			break
		}
		var next *compCmd
		for _, sub := range c.subs {
			if sub.name == names[0] || (sub.name == completeRequest && names[0] == completeRequestNoDesc) {
				next = sub
				if sub.rawArgs {
					sub.calledAs = names[0]
				}
			}
		}
		if next == nil {
			break
		}
		args = c.argsWithout(args, names[0])
		c = next
	}
	if len(c.subs) > 0 && len(c.stripFlags(args)) > 0 {
		return nil, nil, false
	}
	return c, args, true
}

// takesValue reports whether arg is an option of c's whose value is the next
// argument, as cobra's Find guesses it.
func (c *compCmd) takesValue(arg string) bool {
	if strings.Contains(arg, "=") {
		return false
	}
	if strings.HasPrefix(arg, "--") {
		f := c.flags.Lookup(arg[2:])
		return f == nil || f.NoOptDefVal == ""
	}
	if strings.HasPrefix(arg, "-") && len(arg) == 2 {
		f := c.flags.ShorthandLookup(arg[1:])
		return f == nil || f.NoOptDefVal == ""
	}
	return false
}

// stripFlags is cobra's: the arguments that are not options or their values.
func (c *compCmd) stripFlags(args []string) []string {
	var names []string
	for len(args) > 0 {
		s := args[0]
		args = args[1:]
		switch {
		case s == "--":
			return names
		case c.takesValue(s):
			if len(args) <= 1 {
				return names
			}
			args = args[1:]
		case s != "" && !strings.HasPrefix(s, "-"):
			names = append(names, s)
		}
	}
	return names
}

// argsWithout is cobra's argsMinusFirstX: args without the first operand x.
func (c *compCmd) argsWithout(args []string, x string) []string {
	for i := 0; i < len(args); i++ {
		s := args[i]
		switch {
		case s == "--":
			return args
		case c.takesValue(s):
			i++
		case !strings.HasPrefix(s, "-") && s == x:
			return append(args[:i:i], args[i+1:]...)
		}
	}
	return args
}

// flagToComplete is cobra's checkIfFlagCompletion: whether the word being
// completed is an option's value (--limit=, or after --limit), and then the
// option, the arguments before it and the value so far.
func (c *compCmd) flagToComplete(args []string, last string) (*pflag.Flag, []string, string, error) {
	if c.rawArgs {
		return nil, args, last, nil
	}
	var name string
	trimmed, orig, withEqual := args, last, false
	if strings.HasPrefix(last, "-") {
		i := strings.Index(last, "=")
		if i < 0 {
			return nil, args, last, nil
		}
		if strings.HasPrefix(last[:i], "--") {
			name = last[2:i]
		} else {
			name = last[i-1 : i]
		}
		last, withEqual = last[i+1:], true
	}
	if name == "" && len(args) > 0 {
		prev := args[len(args)-1]
		if isFlagArg(prev) && !strings.Contains(prev, "=") {
			if strings.HasPrefix(prev, "--") {
				name = prev[2:]
			} else {
				name = prev[len(prev)-1:]
			}
			trimmed = args[:len(args)-1]
		}
	}
	if name == "" {
		return nil, trimmed, last, nil
	}
	if len(name) == 1 {
		f := c.flags.ShorthandLookup(name)
		if f == nil {
			return nil, args, orig, fmt.Errorf("Subcommand '%s' does not support flag '%s'", c.name, name)
		}
		name = f.Name
	}
	f := c.flags.Lookup(name)
	if f == nil {
		return nil, args, orig, fmt.Errorf("Subcommand '%s' does not support flag '%s'", c.name, name)
	}
	if !withEqual && f.NoOptDefVal != "" {
		return nil, args, last, nil
	}
	return f, trimmed, last, nil
}

// acceptsMore reports whether f may be given more than once, for cobra: its
// name is offered again once given.
func acceptsMore(f *pflag.Flag) bool {
	_, slice := f.Value.(interface{ GetSlice() []string })
	t := f.Value.Type()
	return slice || strings.Contains(t, "Slice") || strings.Contains(t, "Array") || strings.HasPrefix(t, "stringTo")
}

func isFlagArg(arg string) bool {
	return (len(arg) >= 3 && arg[:2] == "--") || (len(arg) >= 2 && arg[0] == '-' && arg[1] != '-')
}
