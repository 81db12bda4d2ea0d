package applets

import (
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/applets/internal/shelltext"
	"github.com/ucspi-go/ucspi/ucspi/exit"
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
			ExitStatus:  `0, even when it cannot connect (tcpclient's messages say so on standard error), as the 0.88 script did, whose status was awk's; 2 when its output fails, with what Debian's awk (mawk) said: "awk: write failure (REASON)" once more than a block of output (4096 bytes on most files) was written, then "awk: close failed on file /dev/stdout (REASON)".`,
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
	out := &shelltext.AwkOutput{W: s.Out, Size: blockSize(s.Out)}
	// awk stops at its first failed write, leaving the rest unread; a failed
	// read is the end of its input.
	err := copyThrough(out, conn, func(dst, src []byte) []byte { return body.Append(dst, d.Append(nil, src)) })
	if err == nil || errors.Is(err, errRead) {
		out.Write(body.Append(nil, d.Finish(nil)))
		out.Write(body.Finish(nil))
	}
	if msg := out.Close(); msg != "" {
		io.WriteString(s.Err, msg)
		return exit.Status(2)
	}
	return nil
}

// blockSize is the block size of w's file, the size of a C stdio buffer
// writing to it (glibc's BUFSIZ when there is none).
func blockSize(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		var st syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &st) == nil && st.Blksize > 0 {
			return int(st.Blksize)
		}
	}
	return 8192
}
