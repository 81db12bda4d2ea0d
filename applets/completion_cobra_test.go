package applets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// cobraComplete is what Complete was when cobra did the work: the oracle that
// TestCompletionAgainstCobra holds ours to, and the source of the scripts in
// completion/ (TestCompletionScripts).
func cobraComplete(args []string, s *Stdio) int {
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

// TestCompletionScripts: the scripts `ucspi completion SHELL` prints are
// cobra's, as cobra writes them today (after a cobra upgrade, copy its output
// into completion/).
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		want, _, code := completeWith(cobraComplete, "completion", shell)
		if code != 0 || want == "" {
			t.Fatalf("cobra's completion %s: exit %d", shell, code)
		}
		if got, _, _ := completeWith(Complete, "completion", shell); got != want {
			t.Errorf("completion/ucspi.%s is not what cobra writes: regenerate it", shell)
		}
	}
}

// TestCompletionAgainstCobra runs every request of a corpus (each applet, each
// of its options as a name and as a value, after operands, after "--", options
// unknown or refused) through ours and cobra's: the same candidates, the same
// directive, the same exit status.
func TestCompletionAgainstCobra(t *testing.T) {
	var corpus [][]string
	add := func(words ...string) { corpus = append(corpus, words) }
	for _, w := range [][]string{
		{""}, {"-"}, {"--"}, {"--l"}, {"--h"}, {"t"}, {"tcp"}, {"c"}, {"n"}, {"_"}, {"--help", ""}, {"--list", "tcp"},
		{"--version", "tcpserver", "-"}, {"nosuch", ""}, {"nosuch", "-"}, {"-x", "tcpserver", ""}, {"--nosuch", "tcpserver", ""},
		{"--", "tcpserver", ""}, {"tcpserver", "--", ""}, {"--list=1", "tcpserver", "-"}, {"--help", "--"},
		{"no-help", ""}, {"no-help", "-"}, {"no-help", "--help", ""}, {"__complete", ""}, {"__complete", "-"},
		{"__completeNoDesc", "x", "--"}, {"completion", ""}, {"completion", "b"}, {"completion", "-"},
		{"completion", "bash", ""}, {"completion", "-h", ""}, {"completion", "--help", "b"}, {"completion", "--nosuch", ""},
		{"completion", "--help=", ""}, {"completion", "--help=false", ""}, {"completion", "-x="}, {"completion", "--", "-"},
		{"", ""}, {"-", ""}, {"tcpserver", "-=x"}, {"tcpserver", "-vc="}, {"tcpserver", "-vc", ""}, {"tcpserver", "-cv", ""},
		{"tcpserver", "-c", "abc", "-"}, {"tcpserver", "-c", "5", "-"}, {"tcpserver", "-c5", "--"}, {"tcpserver", "-v", "-"},
		{"tcpserver", "--verbose", "--"}, {"tcpserver", "0", "25", "-"}, {"tcpserver", "0", "25", "prog", "-"},
		{"tcpserver", "-x", "r.cdb", "0", "--lim"}, {"tcprules", "--help", ""}, {"argv0", "-", ""}, {"argv0", "--", "--"},
	} {
		add(w...)
	}
	for _, a := range All() {
		n := a.Name
		add(n, "")
		add(n, "-")
		add(n, "--")
		add(n, "--h")
		add(n, "op", "")
		add(n, "op", "-")
		add(n, "--", "-")
		add(n, "--", "")
		add(n, "--nosuch", "")
		add(n, "-Z", "")
		add(n, "--nosuch=")
		fs, _ := a.flags()
		fs.VisitAll(func(f *pflag.Flag) {
			add(n, "--"+f.Name, "")
			add(n, "--"+f.Name, "-")
			add(n, "--"+f.Name+"=")
			add(n, "--"+f.Name+"=1")
			add(n, "--"+f.Name, "1", "-")
			add(n, "--"+f.Name, "1", "--")
			add(n, "--"+f.Name, "--"+f.Name, "-")
			if f.Shorthand != "" {
				s := "-" + f.Shorthand
				add(n, s, "")
				add(n, s, "-")
				add(n, s+"=")
				add(n, s+"=0", "-")
				add(n, s, "0", "-")
				add(n, "-v"+f.Shorthand, "")
				add(n, s, "--", "")
			}
		})
	}
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	for _, words := range corpus {
		for _, req := range []string{"__complete", "__completeNoDesc"} {
			args := append([]string{req}, words...)
			// cobra writes its [Error] lines to os.Stderr itself, before
			// the directive's name on the command's.
			errFile.Truncate(0)
			errFile.Seek(0, 0)
			stderr := os.Stderr
			os.Stderr = errFile
			want, wantErr, wantCode := completeWith(cobraComplete, args...)
			os.Stderr = stderr
			direct, _ := os.ReadFile(errFile.Name())
			wantErr = string(direct) + wantErr
			got, gotErr, gotCode := completeWith(Complete, args...)
			if got != want || gotCode != wantCode || gotErr != wantErr {
				t.Errorf("ucspi %q: got exit %d %q (%q), cobra exit %d %q (%q)", args, gotCode, got, gotErr, wantCode, want, wantErr)
			}
		}
	}
	for _, args := range [][]string{
		{"completion"}, {"completion", "bash"}, {"completion", "ksh"}, {"completion", "bash", "zsh"}, {"completion", "--help"},
		{"completion", "-h", "ksh"}, {"completion", "--help=false", "fish"}, {"completion", "--", "zsh"}, {"completion", "--nosuch"},
		{"completion", "-x", "bash"}, {"__complete"}, {"__completeNoDesc"}, {"__completeX", ""},
	} {
		want, wantErr, wantCode := completeWith(cobraComplete, args...)
		got, gotErr, gotCode := completeWith(Complete, args...)
		if got != want || gotErr != wantErr || gotCode != wantCode {
			t.Errorf("ucspi %q: got exit %d %q %q, cobra exit %d %q %q", args, gotCode, clip([]byte(got)), gotErr, wantCode, clip([]byte(want)), wantErr)
		}
	}
	t.Logf("%d requests", len(corpus)*2)
}

func completeWith(f func([]string, *Stdio) int, args ...string) (string, string, int) {
	var out, errOut strings.Builder
	code := f(args, &Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), code
}
