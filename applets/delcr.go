package applets

import (
	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	registerPlain(&Applet{
		Name:    "delcr",
		Summary: "remove the CR at the end of each line",
		Usage:   "delcr",
		Manual: Manual{
			Description: `delcr copies its standard input to its standard output, removing a CR (octal 015) at the end of each line, that is a CR followed by an LF (octal 012), if one is present. It does not remove a CR at the end of a partial final line. Of CR CR LF, only the CR before the LF is removed, leaving CR LF. Every other byte, NUL included, passes unchanged, so delcr can be used on binary data.

It reads and writes in large blocks, in constant memory, and writes what it has converted before waiting for more input (holding back only a CR whose next byte has not arrived yet), so it can sit in an interactive pipeline.`,
			Options:     `delcr takes no options; any arguments are ignored, as under 0.88.`,
			Environment: `delcr reads no environment variables.`,
			ExitStatus:  `0 at the end of its input; 111, without a message, if it cannot read its input or write its output (a final lone CR included).`,
			Examples: `Read a file written with CR LF line ends:

  delcr < dos.txt | less`,
			SeeAlso: []string{"addcr", "fixcrio"},
		},
	}, func(s *Stdio, _ []string) error {
		if _, err := crlf.DelCR(s.Out, s.In); err != nil {
			return exit.Status(exit.Temporary)
		}
		return nil
	})
}
