package applets

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/applets/internal/relay"
	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/pathexec"
	"github.com/ucspi-go/ucspi/ucspi/ssl"
)

func init() {
	Register(&Applet{
		Name:    "sslclient",
		Summary: "connect to a TLS server and run a program on the connection",
		Usage: "sslclient [ -3hHrRdDqQvxXnNsSeE ] [ -i localip ] [ -p localport ] [ -T timeoutconn ] " +
			"[ -l localname ] [ -t timeoutinfo ] [ -a cafile ] [ -A cadir ] [ -c certfile ] [ -k keyfile ] " +
			"[ -V verifydepth ] [ -z ciphers ] [ -w progtimeout ] host port program",
		Setup:  sslclientSetup,
		Manual: sslclientManual,
	})
}

// helperEnv marks sslclient's TLS child and carries the program's pid; it is
// the child's whole environment.
const helperEnv = "UCSPI_SSLCLIENT_FOR_PID"

// sslOptions are what sslclient adds to tcpclient's options.
type sslOptions struct {
	tls      ssl.ClientConfig
	noName   bool // -N
	tcpVars  bool // -e
	password bool // -3
	depth    uint64
	idle     uint64
}

func sslclientSetup(fs *pflag.FlagSet) Runner {
	o := newClientOptions(fs, "sslclient")
	x := &sslOptions{depth: 1, idle: 3600}
	Choice(fs, &x.tls.NoVerify, false, "verify", "x", "verify the server's certificate chain (default)")
	Choice(fs, &x.tls.NoVerify, true, "no-verify", "X", "take any certificate chain")
	Choice(fs, &x.noName, false, "verify-name", "n", "the certificate must name host (default)")
	Choice(fs, &x.noName, true, "no-verify-name", "N", "take a certificate for any name")
	Choice(fs, &x.tls.ModSSL, true, "ssl-env", "s", "set mod_ssl's SSL_* variables of the certificates and cipher")
	Choice(fs, &x.tls.ModSSL, false, "no-ssl-env", "S", "do not set the SSL_* variables (default)")
	Choice(fs, &x.tcpVars, true, "tcp-env", "e", "set tcpclient's TCP* variables too, and PROTO=TCP or TCP6")
	Choice(fs, &x.tcpVars, false, "no-tcp-env", "E", "set the SSL* variables only, PROTO=SSL (default)")
	Choice(fs, &x.password, true, "password", "3", "read the key's password from descriptor 3, up to a NUL")
	fs.StringVarP(&x.tls.CAFile, "cafile", "a", "", "verify against the authorities in `cafile` (default: the system's)")
	fs.StringVarP(&x.tls.CADir, "cadir", "A", "", "and those in the files of `cadir`")
	fs.StringVarP(&x.tls.CertFile, "certfile", "c", "", "show the certificate in `certfile` if the server asks")
	fs.StringVarP(&x.tls.KeyFile, "keyfile", "k", "", "its key, in `keyfile` (default: in certfile)")
	fs.StringVarP(&x.tls.Ciphers, "ciphers", "z", "", "the TLS 1.2 suites of the OpenSSL cipher list `ciphers`")
	Number(fs, &x.depth, 1, 100, "verify-depth", "V", "allow `verifydepth` intermediate certificates")
	Number(fs, &x.idle, 3600, math.MaxUint64, "idle-timeout", "w", "end the connection when silent both ways for `progtimeout` seconds")
	return func(s *Stdio, operands []string) error {
		if _, ok := os.LookupEnv(helperEnv); ok && len(os.Environ()) == 1 {
			ssl.ServeClient()
			return nil
		}
		return o.run(s, func(errs io.Writer) error { return sslclient(o, x, errs, operands) })
	}
}

// sslclient connects, hands the connection to its TLS child, and once the
// handshake is done and verified replaces itself with the program.
func sslclient(o *clientOptions, x *sslOptions, errs io.Writer, operands []string) error {
	holdDescriptors(6, 7)
	c := o.client(errs)
	if len(operands) < 3 {
		return exit.Usage()
	}
	if x.password {
		f := os.NewFile(3, "password")
		pw, err := ssl.ReadPassword(f)
		f.Close()
		if err != nil {
			return exit.FatalSys(exit.Temporary, err, "unable to read password: ")
		}
		x.tls.Password = pw
	}
	// The files are read before connecting, as sslserver reads its own
	// before listening (the child reads them again).
	if x.tls.CertFile != "" {
		if _, err := ssl.LoadPair(x.tls.CertFile, x.tls.KeyFile, x.tls.Password); err != nil {
			return exit.Fatal(exit.Temporary, "unable to load certificate ", err.Error())
		}
	}
	if x.tls.CAFile != "" || x.tls.CADir != "" {
		if _, err := ssl.LoadCAs(x.tls.CAFile, x.tls.CADir); err != nil {
			return exit.Fatal(exit.Temporary, "unable to load certificate ", err.Error())
		}
	}
	// The lookups are bounded by djb's schedule, as tcpclient's are.
	ctx := context.Background()
	host := operands[0]
	conn, err := dial(ctx, c, host, operands[1])
	if err != nil {
		return err
	}
	ip, port := c.RemoteIPText(conn), conn.Remote.Port()
	if o.verbosity >= 2 {
		fmt.Fprintf(errs, "sslclient: connected to %s port %d\n", ip, port)
	}
	// The name checked is the host operand, an address literal included;
	// SNI is sent for names only.
	name := host
	if len(name) > 1 && name[0] == '[' && name[len(name)-1] == ']' {
		name = name[1 : len(name)-1]
	}
	if !x.noName {
		x.tls.Name = name
	}
	if net.ParseIP(name) == nil {
		x.tls.ServerName = name
	}
	x.tls.Depth = int(min(x.depth, 100))
	x.tls.Timeout = time.Duration(min(o.timeout[0]+o.timeout[1], 1<<31)) * time.Second
	x.tls.Idle = time.Duration(min(x.idle, 1<<31)) * time.Second

	ctl, err := startTLSChild(conn.FD)
	if err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to start TLS: ")
	}
	if err := sendConfig(ctl, &x.tls); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to start TLS: ")
	}
	env := c.Environment(ctx, conn) // the lookups, while the child shakes hands
	sslVars, err := ssl.ReadClientResult(ctl)
	ctl.Close()
	if err != nil {
		return exit.Fatal(exit.Temporary, "unable to establish TLS with ", ip, " port ", strconv.Itoa(int(port)), ": ", err.Error())
	}
	vars := append(ucspi.SSLVars(env, x.tcpVars), sslVars...)
	program := operands[2:]
	err = pathexec.Run(program[0], program, ucspi.Environment(ucspi.WithoutSSL(os.Environ()), vars))
	return exit.FatalSys(exit.Temporary, err, "unable to run ", program[0], ": ")
}

// startTLSChild starts the TLS child (this binary again, as sslclient with
// helperEnv alone in its environment) with the socket on its descriptor 3,
// its end of a socketpair on 4 (the other end becomes our 6 and 7, for the
// program) and a control socket on 5, whose other end it returns.
func startTLSChild(sock int) (*os.File, error) {
	prog, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ctl, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	child := exec.Command(relay.Self())
	child.Args = []string{"sslclient"}
	child.Env = []string{helperEnv + "=" + strconv.Itoa(os.Getpid())}
	child.Stderr = os.Stderr
	child.ExtraFiles = []*os.File{os.NewFile(uintptr(sock), "socket"), os.NewFile(uintptr(prog[1]), "program"), os.NewFile(uintptr(ctl[1]), "control")}
	err = child.Start()
	for _, f := range child.ExtraFiles {
		f.Close()
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Dup3(prog[0], 6, 0); err != nil {
		return nil, err
	}
	if err := unix.Dup3(6, 7, 0); err != nil {
		return nil, err
	}
	unix.Close(prog[0])
	return os.NewFile(uintptr(ctl[0]), "control"), nil
}

// sendConfig writes the child's ClientConfig and ends our side.
func sendConfig(ctl *os.File, cc *ssl.ClientConfig) error {
	b, err := cc.MarshalBinary()
	if err != nil {
		return err
	}
	if _, err := ctl.Write(b); err != nil {
		return err
	}
	return syscall.Shutdown(int(ctl.Fd()), syscall.SHUT_WR)
}

var sslclientManual = Manual{
	Description: `sslclient is tcpclient with TLS, compatible with ucspi-ssl's sslclient. It
connects to host and port as tcpclient does (the same options, -T x+y, the
same messages), makes the TLS handshake within x+y seconds, verifies the
server, and runs program with descriptor 6 reading from and descriptor 7
writing to the TLS connection. The program keeps sslclient's process id, as
under tcpclient; descriptors 6 and 7 are a socketpair to a child process that
relays to and from the network. The handshake is over, and the server
verified, before the program runs: if it fails, sslclient prints "sslclient:
fatal: unable to establish TLS with IP port N: REASON", runs nothing, and exits
111. The end of the program's output is the end of the connection's
(close_notify, then FIN); the server's end is the end of the program's input.

Verification, by default: the server's certificate chain against the
authorities of -a cafile and -A cadir (by default the system's), at most -V
intermediates deep (default 1), REASON then saying "expired" or "unknown
authority"; and its name against host, DNS name or IP address alike (REASON
says "name"). -X takes any chain; -N any name. -c certfile and -k keyfile
(default: the key is in certfile) are shown if the server asks for a
certificate; -3 reads the key's password, up to a NUL, from descriptor 3 (a
key encrypted the legacy PEM way). -z ciphers is an OpenSSL cipher list, of
which the TLS 1.2 suite names are honoured. TLS 1.2 and 1.3 only; SNI is sent
when host is a name. -w n ends a connection silent both ways for n seconds
(default 3600).`,
	Environment: `The program's environment: PROTO=SSL, SSLLOCALIP, SSLLOCALPORT, SSLLOCALHOST,
SSLREMOTEIP, SSLREMOTEPORT, SSLREMOTEHOST, SSLREMOTEINFO, as tcpclient sets the
TCP* ones (-h, -H, -r, -R, -l, -t as for tcpclient). -e also sets the TCP*
variables, PROTO then being TCP or TCP6. -s sets mod_ssl's variables:
SSL_PROTOCOL, SSL_CIPHER, SSL_CIPHER_USEKEYSIZE, SSL_CIPHER_ALGKEYSIZE,
SSL_VERSION_INTERFACE, SSL_VERSION_LIBRARY, and SSL_SERVER_S_DN, _I_DN, their
components, _M_SERIAL, _V_START, _V_END, _CERT for the server's certificate
(SSL_CLIENT_ ones for ours, if it was asked for).`,
	ExitStatus: `100 for a usage error, 111 if sslclient cannot connect, verify
or run the program; otherwise the program's.`,
	Examples: `Ask a mail server over SMTPS what it says first, verified against the
system's authorities:

  sslclient -RHl0 mx.example.org 465 sh -c 'echo QUIT >&7; cat <&6'`,
	SeeAlso: []string{"sslserver", "tcpclient", "openssl-s_server(1)"},
}
