package applets

import (
	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	Register(&Applet{
		Name:    "addcr",
		Summary: "insert a CR before each LF",
		Usage:   "addcr",
		RawArgs: true,
		Setup: func(_ *pflag.FlagSet) Runner {
			return func(s *Stdio, _ []string) error {
				// Like 0.88, any arguments are ignored, and a failure to read or
				// write says nothing: the exit status tells.
				if _, err := crlf.AddCR(s.Out, s.In); err != nil {
					return exit.Status(exit.Temporary)
				}
				return nil
			}
		},
		Manual: `addcr copies its standard input to its standard output, inserting a CR (octal 015) before each LF (octal 012), that is at the end of each line. It does not insert a CR at the end of a partial final line. Every other byte, NUL included, passes unchanged, so addcr can be used on binary data.

addcr takes no options; any arguments are ignored. It reads and writes in large blocks, in constant memory, and writes what it has converted before waiting for more input, so it can sit in an interactive pipeline.

addcr exits 0 at the end of its input, and 111 without a message if it cannot read its input or write its output.`,
	})
}
