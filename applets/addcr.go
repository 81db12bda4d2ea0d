package applets

import (
	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	registerPlain(&Applet{
		Name:    "addcr",
		Summary: "insert a CR before each LF",
		Usage:   "addcr",
		Manual: Manual{
			Description: `addcr copies its standard input to its standard output, inserting a CR (octal 015) before each LF (octal 012), that is at the end of each line. It does not insert a CR at the end of a partial final line. Every other byte, NUL included, passes unchanged, so addcr can be used on binary data.

It reads and writes in large blocks, in constant memory, and writes what it has converted before waiting for more input, so it can sit in an interactive pipeline.`,
			Options:     `addcr takes no options; any arguments are ignored, as under 0.88.`,
			Environment: `addcr reads no environment variables.`,
			ExitStatus:  `0 at the end of its input; 111, without a message, if it cannot read its input or write its output.`,
			Examples: `Give a text file CR LF line ends:

  addcr < unix.txt > dos.txt`,
			SeeAlso: []string{"delcr", "fixcrio"},
		},
	}, func(s *Stdio, _ []string) error {
		// A failure to read or write says nothing, as 0.88's: the exit status tells.
		if _, err := crlf.AddCR(s.Out, s.In); err != nil {
			return exit.Status(exit.Temporary)
		}
		return nil
	})
}
