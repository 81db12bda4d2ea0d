package applets

import (
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	Register(&Applet{
		Name:    "mconnect",
		Summary: "talk to an SMTP (or any line-based) server from the terminal",
		Usage:   "mconnect [ host [ port ] ]",
		RawArgs: true,
		Setup: func(*pflag.FlagSet) Runner {
			return func(s *Stdio, args []string) error {
				// exec tcpclient -RHl0 -- "${1-0}" "${2-25}" mconnect-io
				conn, code := scriptDial(s, operand(args, 1, "0"), operand(args, 2, "25"))
				if conn == nil {
					return exit.Status(code)
				}
				defer conn.Close()
				mconnectIO(s.Out, s.In, conn, conn)
				return nil
			}
		},
		Manual: `mconnect connects to port (default 25, SMTP) on host (default: the local host). It sends its standard input to the server, adding a CR before each LF, and meanwhile prints whatever the server sends, unchanged. It stops when the server closes the connection; the end of its input does not close the connection, so the server's last words are still printed.

mconnect exits 0 once the server has closed the connection, and 111, with tcpclient's messages, if it cannot connect.`,
	})
	Register(&Applet{
		Name:    "mconnect-io",
		Summary: "mconnect's relay, for a program run by tcpclient",
		Usage:   "mconnect-io",
		RawArgs: true,
		Setup: func(*pflag.FlagSet) Runner {
			return func(s *Stdio, _ []string) error {
				mconnectIO(s.Out, s.In, os.NewFile(6, "network input"), os.NewFile(7, "network output"))
				return nil
			}
		},
		Manual: `mconnect-io is the program tcpclient runs for mconnect: it copies its standard input to descriptor 7, adding a CR before each LF, and meanwhile copies descriptor 6 to its standard output, unchanged. When descriptor 6 ends it stops, whatever is left of its input.

mconnect-io takes no options and ignores its arguments. It exits 0.`,
	})
}

// mconnectIO is 0.88's mconnect-io: one side copies in to netOut with CRs
// added, the other copies netIn to out; the end of netIn ends it all, the end
// of in only that side (the connection stays open for the server's reply).
func mconnectIO(out io.Writer, in io.Reader, netIn io.Reader, netOut io.Writer) {
	go crlf.AddCR(netOut, in)
	copyThrough(out, netIn, nil)
}
