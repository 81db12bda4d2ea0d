package applets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/applets/internal/shelltext"
	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// The sample clients of 0.88 (tcpcat, mconnect, who@, date@, finger@, http@)
// were shell scripts around tcpclient -RHl0, addcr, delcr, cat -v and awk. These
// applets do the same work in-process, so they need no shell (they run in a FROM
// scratch image), and print what the scripts printed, byte for byte, for the
// same server replies. Where a script hard-wires a port, an extra operand names
// another. This file holds what they share.

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
	if err == nil {
		// Blocking, as the scripts' programs had it: each read is one system
		// call, with no poller between the socket and the copy.
		if err = ucspi.Blocking(conn.FD); err != nil {
			err = exit.FatalSys(exit.Temporary, err, "unable to set up descriptor 6: ")
		}
	}
	if err != nil {
		return nil, Lookup("tcpclient").report(s.Err, err)
	}
	return os.NewFile(uintptr(conn.FD), "network"), 0
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

// catWriteError is how the scripts' cat ended when its output failed: its
// message, exit 1.
func catWriteError(s *Stdio, err error) error {
	if err == nil {
		return nil
	}
	fmt.Fprintf(s.Err, "cat: write error: %s\n", shelltext.Strerror(err))
	return exit.Status(1)
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

// scriptOptions is the OPTIONS text of the sample clients.
func scriptOptions(name string) string {
	return name + " takes no options, as the 0.88 script took none: every argument is an operand."
}

// scriptEnvironment is the ENVIRONMENT of the sample clients.
const scriptEnvironment = `$DNSCACHEIP names the DNS servers to ask for host's address, else those of /etc/resolv.conf (/etc/hosts is never read); $DNSREWRITEFILE and $LOCALDOMAIN complete short names; as for tcpclient.`
