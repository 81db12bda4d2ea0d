package applets

import (
	"strings"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/applets/internal/shelltext"
)

func init() {
	registerPlain(&Applet{
		Name:    "finger@",
		Summary: "ask a remote host's finger server about a user (port 79)",
		Usage:   "finger@ [ host [ user [ port ] ] ]",
		Manual: Manual{
			Description: `finger@ connects to TCP port 79 (finger) on host (default: the local host), sends user (default: nothing) and a CR LF, and prints what it receives, removing the CR of each CR LF and showing unprintable characters as cat -v does. With no user, many servers list the users logged in.

The user is sent as the 0.88 script's echo sent it: backslash escapes (\n, \t, \c, \0nnn...) are interpreted, and a user of exactly "-n" sends nothing at all.

Not in 0.88: a host operand of the form user@host, with no user operand (or an empty one), asks host about user; a third operand names another port.`,
			Options:     scriptOptions("finger@"),
			Environment: scriptEnvironment,
			ExitStatus:  `0, even when it cannot connect (tcpclient's messages say so on standard error), as the 0.88 script did, whose status was cat's; 1, with cat's message ("cat: write error: No space left on device"), when its output fails.`,
			Examples: `Two ways to ask the same question:

  finger@ example.com alice
  finger@ alice@example.com`,
			SeeAlso: []string{"who@", "date@", "tcpclient"},
		},
	}, finger)
}

// finger is:
// echo "${2-}" | tcpclient -RHl0 -- "${1-0}" 79 sh -c 'addcr >&7; exec delcr <&6' | cat -v
func finger(s *Stdio, args []string) error {
	host, user := operand(args, 1, "0"), operand(args, 2, "")
	if i := strings.LastIndexByte(host, '@'); i >= 0 && user == "" {
		host, user = host[i+1:], host[:i]
	}
	conn, _ := scriptDial(s, host, operand(args, 3, "79"))
	if conn == nil {
		return nil
	}
	defer conn.Close()
	// A server that hangs up before reading the question still gets its answer
	// printed, as addcr dying of SIGPIPE left delcr to run.
	conn.Write(crlf.AppendAddCR(nil, shelltext.DashEcho(user, true)))
	return catWriteError(s, delcrCatV(s.Out, conn))
}
