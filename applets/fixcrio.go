package applets

import (
	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/applets/internal/relay"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	registerPlain(&Applet{
		Name:    "fixcrio",
		Summary: "insert missing CRs at the ends of lines going to and from a program",
		Usage:   "fixcrio program [ arg ... ]",
		Manual: Manual{
			Description: `fixcrio runs program with the given arguments. It inserts a CR (octal 015) at the end of each line of input or output to program that does not have one: in both directions, an LF (octal 012) not preceded by a CR becomes CR LF, while CR LF passes unchanged. A partial final line is passed on as it is. Every other byte, NUL included, passes unchanged.

program runs in fixcrio's own process, with the same process ID, so the exit status fixcrio's caller sees is program's. The copying is done by a child process of program. The end of input and the end of output are passed on independently: when fixcrio's input ends, program sees the end of its input and its output goes on being copied; when program closes its output, descriptor 1 is closed (and, if it is a socket, shut down for writing) while its input goes on being copied for as long as program reads it. The child exits when program's output has ended and program cannot read more input, so at once when program exits. Memory use is constant, however much passes.`,
			Options:     `fixcrio takes no options: every argument is passed on to program as given.`,
			Environment: relayEnvironment,
			ExitStatus:  `100 with a usage message if it is given no program; 111 with "fixcrio: fatal: unable to run program: reason" if program cannot be run, or if the pipes or the child cannot be made. Otherwise the exit status is program's.`,
			Examples: `Serve a program that writes bare LFs to clients that want CR LF:

  tcpserver 0 7000 fixcrio ./myserver`,
			SeeAlso: []string{"addcr", "delcr", "recordio", "tcpserver"},
		},
	}, func(_ *Stdio, args []string) error {
		if pid, ok := relay.Helper(); ok {
			var in, out crlf.Fixer
			relay.Serve(pid, relay.Options{ToProgram: in.Append, FromProgram: out.Append})
			return nil
		}
		if len(args) < 1 {
			return exit.Usage()
		}
		return relay.Start("fixcrio", args)
	})
}

// relayEnvironment is the ENVIRONMENT of fixcrio and recordio.
const relayEnvironment = `$PATH, to find program, as argv0 does. The copying child is this binary run again with UCSPI_RELAY_FOR_PID (the program's process ID) as its whole environment; program never sees that variable.`
