package applets

import (
	"errors"
	"fmt"

	"github.com/ucspi-go/ucspi/applets/internal/shelltext"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	registerPlain(&Applet{
		Name:    "tcpcat",
		Summary: "print what a TCP server sends",
		Usage:   "tcpcat host port",
		Manual: Manual{
			Description: `tcpcat connects to port on host (default: port 17 on the local host) and prints everything it receives, unchanged, until the server closes the connection. It sends nothing. It can be used to transfer binary data.`,
			Options:     scriptOptions("tcpcat"),
			Environment: scriptEnvironment,
			ExitStatus:  `0 when the server has closed the connection; 1, with cat's message ("cat: -: Connection reset by peer"), if reading the connection fails; 111, with tcpclient's messages, if it cannot connect; 100, with tcpclient's usage line, for a port above 65535.`,
			Examples: `Talk to the server of tcpserver's example:

  tcpserver -v -RHl0 127.0.0.1 8000 echo hello &
  tcpcat 127.0.0.1 8000`,
			SeeAlso: []string{"tcpclient", "tcpserver", "mconnect"},
		},
	}, tcpcat)
}

// tcpcat is: exec tcpclient -RHl0 -- "${1-0}" "${2-17}" sh -c 'exec cat <&6'
func tcpcat(s *Stdio, args []string) error {
	conn, code := scriptDial(s, operand(args, 1, "0"), operand(args, 2, "17"))
	if conn == nil {
		return exit.Status(code)
	}
	defer conn.Close()
	if err := copyThrough(s.Out, conn, nil); err != nil {
		if errors.Is(err, errRead) {
			fmt.Fprintf(s.Err, "cat: -: %s\n", shelltext.Strerror(err))
			return exit.Status(1)
		}
		return catWriteError(s, err)
	}
	return nil
}
