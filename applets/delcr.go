package applets

import (
	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	Register(&Applet{
		Name:    "delcr",
		Summary: "remove the CR at the end of each line",
		Usage:   "delcr",
		RawArgs: true,
		Setup: func(_ *pflag.FlagSet) Runner {
			return func(s *Stdio, _ []string) error {
				if _, err := crlf.DelCR(s.Out, s.In); err != nil {
					return exit.Status(exit.Temporary)
				}
				return nil
			}
		},
		Manual: `delcr copies its standard input to its standard output, removing a CR (octal 015) at the end of each line, that is a CR followed by an LF (octal 012), if one is present. It does not remove a CR at the end of a partial final line. Of CR CR LF, only the CR before the LF is removed, leaving CR LF. Every other byte, NUL included, passes unchanged, so delcr can be used on binary data.

delcr takes no options; any arguments are ignored. It reads and writes in large blocks, in constant memory, and writes what it has converted before waiting for more input (holding back only a CR whose next byte has not arrived yet), so it can sit in an interactive pipeline.

delcr exits 0 at the end of its input, and 111 without a message if it cannot read its input or write its output.`,
	})
}
