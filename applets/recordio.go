package applets

import (
	"github.com/ucspi-go/ucspi/applets/internal/relay"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	registerPlain(&Applet{
		Name:    "recordio",
		Summary: "record the input and output of a program",
		Usage:   "recordio program [ arg ... ]",
		Manual: Manual{
			Description: `recordio runs program with the given arguments, and prints lines to descriptor 2 showing the input and output of program. The data itself passes unchanged.

At the beginning of each line on descriptor 2, recordio inserts the program's process ID, along with < for input or > for output. At the end of each line it inserts +, a space, or [EOF]: a space indicates that there was a newline in the input or output, and [EOF] indicates the end of input or output. For example, "1234 < HELO example.com " shows the program reading a line, and "1234 > [EOF]" the end of its output.

recordio prints every packet of input and output immediately, before passing it on. It does not attempt to combine packets into coherent lines: a packet holding a partial line gives a line ending in +, and a packet of several lines gives several lines. recordio uses several lines for long packets (one for each 256 bytes) to guarantee that each line is printed atomically.

The process ID is that of program itself: program runs in recordio's own process, so it is the pid that tcpserver logs, and the exit status recordio's caller sees is program's. The copying is done by a child process of program. The end of input and the end of output are passed on independently: when recordio's input ends, program sees the end of its input and its output goes on being copied; when program closes its output, descriptor 1 is closed (and, if it is a socket, shut down for writing) while its input goes on being copied for as long as program reads it. The child exits when program's output has ended and program cannot read more input, so at once when program exits. Memory use is constant, however much passes.`,
			Options:     `recordio takes no options: every argument is passed on to program as given.`,
			Environment: relayEnvironment,
			ExitStatus:  `100 with a usage message if it is given no program; 111 with "recordio: fatal: unable to run program: reason" if program cannot be run, or if the pipes or the child cannot be made. Otherwise the exit status is program's.`,
			Examples: `Record an SMTP server's conversations in its log:

  tcpserver -v 0 smtp recordio /var/qmail/bin/qmail-smtpd 2>&1 | multilog t ./main`,
			SeeAlso: []string{"tcpserver", "fixcrio", "multilog(8)"},
		},
	}, func(_ *Stdio, args []string) error {
		if pid, ok := relay.Helper(); ok {
			relay.Serve(pid, relay.Options{Record: true})
			return nil
		}
		if len(args) < 1 {
			return exit.Usage()
		}
		return relay.Start("recordio", args)
	})
}
