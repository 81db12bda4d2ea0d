package applets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/applets/internal/shelltext"
	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// The sample clients of 0.88 were shell scripts around tcpclient -RHl0, addcr,
// delcr, cat -v and awk. These applets do the same work in-process, so they
// need no shell (they run in a FROM scratch image), and print what the scripts
// printed, byte for byte, for the same server replies. Where a script
// hard-wires a port, an extra operand names another.

func init() {
	for _, a := range []*Applet{
		{
			Name:    "tcpcat",
			Summary: "print what a TCP server sends",
			Usage:   "tcpcat host port",
			Setup:   script(tcpcat),
			Manual: `tcpcat connects to port on host (default: port 17 on the local host) and prints everything it receives, unchanged, until the server closes the connection. It sends nothing. It can be used to transfer binary data.

tcpcat exits 0 when the server has closed the connection; 1, with cat's message ("cat: -: Connection reset by peer"), if reading the connection fails; 111, with tcpclient's messages, if it cannot connect.`,
		},
		{
			Name:    "who@",
			Summary: "print the list of users on a remote host (systat, port 11)",
			Usage:   "who@ [ host [ port ] ]",
			Setup:   script(func(s *Stdio, args []string) error { return printRemote(s, args, "11") }),
			Manual: `who@ connects to TCP port 11 (systat) on host (default: the local host) and prints what it receives, removing the CR of each CR LF and showing unprintable characters as cat -v does (^M, M-x, ^?). Some hosts answer on port 11 with a list of active users, for example by running tcpserver -RHl0 0 11 who.

The second operand, not in 0.88, names another port.

who@ exits 0 even when it cannot connect (tcpclient's messages say so on stderr), as the 0.88 script did, whose status was cat's; when its output fails it says so as cat did ("cat: write error: No space left on device") and exits 1.`,
		},
		{
			Name:    "date@",
			Summary: "print the date on a remote host (daytime, port 13)",
			Usage:   "date@ [ host [ port ] ]",
			Setup:   script(func(s *Stdio, args []string) error { return printRemote(s, args, "13") }),
			Manual: `date@ connects to TCP port 13 (daytime) on host (default: the local host) and prints what it receives, removing the CR of each CR LF and showing unprintable characters as cat -v does. Some hosts answer on port 13 with a human-readable date, for example by running tcpserver -RHl0 0 13 date.

The second operand, not in 0.88, names another port.

date@ exits 0 even when it cannot connect (tcpclient's messages say so on stderr), as the 0.88 script did, whose status was cat's; when its output fails it says so as cat did ("cat: write error: No space left on device") and exits 1.`,
		},
		{
			Name:    "finger@",
			Summary: "ask a remote host's finger server about a user (port 79)",
			Usage:   "finger@ [ host [ user [ port ] ] ]",
			Setup:   script(finger),
			Manual: `finger@ connects to TCP port 79 (finger) on host (default: the local host), sends user (default: nothing) and a CR LF, and prints what it receives, removing the CR of each CR LF and showing unprintable characters as cat -v does. With no user, many servers list the users logged in.

The user is sent as the 0.88 script's echo sent it: backslash escapes (\n, \t, \c, \0nnn...) are interpreted, and a user of exactly "-n" sends nothing at all.

Not in 0.88: a host operand of the form user@host, with no user operand (or an empty one), asks host about user; a third operand names another port.

finger@ exits 0 even when it cannot connect (tcpclient's messages say so on stderr), as the 0.88 script did, whose status was cat's; when its output fails it says so as cat did ("cat: write error: No space left on device") and exits 1.`,
		},
		{
			Name:    "http@",
			Summary: "fetch a web page over HTTP/1.0 and print its body",
			Usage:   "http@ [ host [ page [ port ] ] ]",
			Setup:   script(httpAt),
			Manual: `http@ connects to port (default 80) on host (default: the local host), sends

  GET /page HTTP/1.0
  Host: host:port

with CR LF line ends, and prints the body of the response: every line after the first empty one, with the CR of each CR LF removed. As in the 0.88 script (which used awk), empty lines are dropped from the body too, and a final partial line gets a newline. The request is written as the script's echo wrote it: backslash escapes in page are interpreted.

http@ exits 0 even when it cannot connect (tcpclient's messages say so on stderr), as the 0.88 script did, whose status was awk's. When its output fails it says so as Debian's awk (mawk) did and exits 2: "awk: write failure (REASON)" once more than a block of output (4096 bytes on most files) has been written, then "awk: close failed on file /dev/stdout (REASON)".`,
		},
	} {
		a.RawArgs = true
		Register(a)
	}
}

// script adapts a sample client to the Setup shape: the 0.88 scripts take no
// options, every argument is an operand.
func script(run Runner) func(*pflag.FlagSet) Runner {
	return func(*pflag.FlagSet) Runner { return run }
}

// operand is the shell's ${n-def}: args[n-1] when there is one, else def.
func operand(args []string, n int, def string) string {
	if len(args) >= n {
		return args[n-1]
	}
	return def
}

// scriptDial connects as the scripts' tcpclient -RHl0 -- host port did. On
// failure it has printed tcpclient's messages and returns tcpclient's exit
// status.
func scriptDial(s *Stdio, host, port string) (*os.File, int) {
	c := &ucspi.Client{
		Timeout:   [2]uint64{2, 58},
		LocalName: ucspi.Known("0"),
		Resolver:  dns.New(),
		Warn:      s.Err,
	}
	conn, err := dial(context.Background(), c, host, port)
	if err != nil {
		e := exit.As(err)
		if !e.Silent() {
			fmt.Fprintf(s.Err, "tcpclient: %s\n", e.Text)
		}
		return nil, e.Code
	}
	// Blocking, as the scripts' programs had it: each read is one system
	// call, with no poller between the socket and the copy.
	if err := ucspi.Blocking(conn.FD); err != nil {
		fmt.Fprintf(s.Err, "tcpclient: fatal: unable to set up descriptor 6: %s\n", exit.Reason(err))
		return nil, exit.Temporary
	}
	return os.NewFile(uintptr(conn.FD), "network"), 0
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

// catWriteError is how the scripts' cat ended when its output failed: its
// message, exit 1.
func catWriteError(s *Stdio, err error) error {
	if err == nil {
		return nil
	}
	fmt.Fprintf(s.Err, "cat: write error: %s\n", shelltext.Strerror(err))
	return exit.Status(1)
}

// printRemote is who@ and date@:
// tcpclient -RHl0 -- "${1-0}" PORT sh -c 'exec delcr <&6' | cat -v
func printRemote(s *Stdio, args []string, port string) error {
	conn, _ := scriptDial(s, operand(args, 1, "0"), operand(args, 2, port))
	if conn == nil {
		return nil
	}
	defer conn.Close()
	return catWriteError(s, delcrCatV(s.Out, conn))
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

// delcrCatV copies src to dst as delcr | cat -v would: CR LF becomes LF, then
// every unprintable byte is shown in cat -v's notation. Reading stops quietly at
// an error, as delcr exited 111 into a pipeline whose status was cat's; a
// failed write stops the copy and comes back, as it ended cat.
func delcrCatV(dst io.Writer, src io.Reader) error {
	var d crlf.Deleter
	err := copyThrough(dst, src, func(out, in []byte) []byte { return shelltext.AppendCatV(out, d.Append(nil, in)) })
	if errors.Is(err, errRead) {
		err = nil
	}
	if rest := shelltext.AppendCatV(nil, d.Finish(nil)); err == nil && len(rest) > 0 {
		_, err = dst.Write(rest)
	}
	return err
}

var errRead = errors.New("read")

// copyThrough copies src to dst through convert (nil copies as is), writing what
// each read produced before reading again, until src ends. A read error comes
// back wrapped in errRead; a write error as it is.
func copyThrough(dst io.Writer, src io.Reader, convert func(dst, src []byte) []byte) error {
	in := make([]byte, 64<<10)
	var out []byte
	for {
		n, err := src.Read(in)
		if n > 0 {
			chunk := in[:n]
			if convert != nil {
				out = convert(out[:0], chunk)
				chunk = out
			}
			if _, werr := dst.Write(chunk); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errRead, err)
		}
	}
}
