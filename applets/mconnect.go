package applets

import (
	"io"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	registerPlain(&Applet{
		Name:    "mconnect",
		Summary: "talk to an SMTP (or any line-based) server from the terminal",
		Usage:   "mconnect [ host [ port ] ]",
		Manual: Manual{
			Description: `mconnect connects to port (default 25, SMTP) on host (default: the local host). It sends its standard input to the server, adding a CR before each LF, and meanwhile prints whatever the server sends, unchanged. It stops when the server closes the connection; the end of its input does not close the connection, so the server's last words are still printed.`,
			Options:     scriptOptions("mconnect"),
			Environment: scriptEnvironment,
			ExitStatus:  `0 once the server has closed the connection; 111, with tcpclient's messages, if it cannot connect; 100, with tcpclient's usage line, for a port above 65535.`,
			Examples: `Check that a mail server answers:

  printf 'QUIT\n' | mconnect 127.0.0.1`,
			SeeAlso: []string{"mconnect-io", "tcpclient", "tcpcat"},
		},
	}, func(s *Stdio, args []string) error {
		// exec tcpclient -RHl0 -- "${1-0}" "${2-25}" mconnect-io
		conn, code := scriptDial(s, operand(args, 1, "0"), operand(args, 2, "25"))
		if conn == nil {
			return exit.Status(code)
		}
		defer conn.Close()
		mconnectIO(s.Out, s.In, conn, conn)
		return nil
	})
}

// mconnectIO is 0.88's mconnect-io: one side copies in to netOut with CRs
// added, the other copies netIn to out; the end of netIn ends it all, the end
// of in only that side (the connection stays open for the server's reply).
func mconnectIO(out io.Writer, in io.Reader, netIn io.Reader, netOut io.Writer) {
	go crlf.AddCR(netOut, in)
	copyThrough(out, netIn, nil)
}
