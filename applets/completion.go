package applets

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// completionUsage is `ucspi completion`'s usage text.
const completionUsage = "ucspi completion bash|zsh|fish"

// IsCompletion reports whether `ucspi arg ...` is for Complete: `ucspi
// completion SHELL`, or a shell's request for candidates, which the scripts
// make as `ucspi __complete WORDS...` (cobra's protocol).
func IsCompletion(arg string) bool {
	return arg == "completion" || strings.HasPrefix(arg, cobra.ShellCompRequestCmd)
}

// Complete runs `ucspi ARGS...` for which IsCompletion holds and returns the
// exit status. The candidates are the applet names after ucspi, and each
// applet's options after its name, from the same records that parse them.
func Complete(args []string, s *Stdio) int {
	root := &cobra.Command{
		Use:               "ucspi",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetHelpCommand(&cobra.Command{Use: "no-help", Hidden: true})
	root.Flags().Bool("help", false, "print the usage line and the applets")
	root.Flags().Bool("version", false, "print the version")
	root.Flags().Bool("list", false, "list the applets, one a line, with their summaries")
	for _, a := range All() {
		sub := &cobra.Command{Use: a.Name, Short: a.Summary, Run: func(*cobra.Command, []string) {}}
		fs := sub.Flags()
		fs.SortFlags = false
		// Ours, defined first, so that cobra neither adds its own nor takes -h.
		fs.Bool("help", false, "as the only argument: print the manual")
		if a.Setup != nil {
			a.Setup(fs)
		}
		fs.VisitAll(func(f *pflag.Flag) { _, f.Usage = pflag.UnquoteUsage(f) })
		root.AddCommand(sub)
	}
	root.AddCommand(&cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "print a completion script for the shell",
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(_ *cobra.Command, shell []string) error {
			switch shell[0] {
			case "bash":
				return root.GenBashCompletionV2(s.Out, true)
			case "zsh":
				return root.GenZshCompletion(s.Out)
			default:
				return root.GenFishCompletion(s.Out, true)
			}
		},
	})
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		ucspi := &Applet{Name: "ucspi", Usage: completionUsage}
		return ucspi.report(s.Err, exit.Usage())
	}
	return 0
}
