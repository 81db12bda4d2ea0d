package applets

import (
	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/applets/internal/shelltext"
)

func init() {
	registerPlain(&Applet{
		Name:    "http@",
		Summary: "fetch a web page over HTTP/1.0 and print its body",
		Usage:   "http@ [ host [ page [ port ] ] ]",
		Manual: Manual{
			Description: `http@ connects to port (default 80) on host (default: the local host), sends

  GET /page HTTP/1.0
  Host: host:port

with CR LF line ends, and prints the body of the response: every line after the first empty one, with the CR of each CR LF removed. As in the 0.88 script (which used awk), empty lines are dropped from the body too, and a final partial line gets a newline. The request is written as the script's echo wrote it: backslash escapes in page are interpreted.`,
			Options:     scriptOptions("http@"),
			Environment: scriptEnvironment,
			ExitStatus:  `0, even when it cannot connect (tcpclient's messages say so on standard error), as the 0.88 script did, whose status was awk's.`,
			Examples: `Fetch a page from a local server on port 8080:

  http@ 127.0.0.1 index.html 8080`,
			SeeAlso: []string{"tcpclient", "tcpcat"},
		},
	}, httpAt)
}

// httpAt is:
// echo "GET /${2-} HTTP/1.0\nHost: ${1-0}:${3-80}\n" | tcpclient -RHl0 -- "${1-0}" "${3-80}"
// sh -c 'addcr >&7; exec delcr <&6' | awk '/^$/ { body=1; next } { if (body) print }'
func httpAt(s *Stdio, args []string) error {
	host, page, port := operand(args, 1, "0"), operand(args, 2, ""), operand(args, 3, "80")
	conn, _ := scriptDial(s, host, port)
	if conn == nil {
		return nil
	}
	defer conn.Close()
	request := "GET /" + page + " HTTP/1.0\nHost: " + host + ":" + port + "\n"
	conn.Write(crlf.AppendAddCR(nil, shelltext.DashEcho(request, false)))
	var body shelltext.BodyFilter
	var d crlf.Deleter
	copyThrough(s.Out, conn, func(dst, src []byte) []byte { return body.Append(dst, d.Append(nil, src)) })
	s.Out.Write(body.Append(nil, d.Finish(nil)))
	s.Out.Write(body.Finish(nil))
	return nil
}
