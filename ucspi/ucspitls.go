package ucspi

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ucspi-go/ucspi/ucspi/ssl"
)

// sslserver -n: UCSPI-TLS (ucspi-ssl's ucspi-tls(2)). The program starts at
// once on plaintext: its descriptors 0 and 1 are a socketpair the server
// relays to the network in clear (-B too). SSLCTLFD names its control
// descriptor, SSLREADFD and SSLWRITEFD where it reads and writes once TLS is
// on. Writing "y" to SSLCTLFD starts TLS on the same connection; "Y" does the
// same and then sends the -s variables on SSLCTLFD, each "VAR=value" and a
// NUL, then one more NUL. The end of SSLCTLFD without a command keeps the
// connection in plaintext to its end. The program's descriptors:
const (
	ctlFD   = 3
	readFD  = 4
	writeFD = 5
)

// serveDelayed is serveTLS under -n. *spawned is set once the program runs.
//
// What the client sent in clear before the switch reaches the program on
// descriptor 0 only, never on SSLREADFD: TLS data comes on a socketpair of
// its own. The clear relay stops short of a TLS record (ssl.Plain), so a
// ClientHello sent on the program's go-ahead waits in the socket for the
// handshake even if the request on SSLCTLFD is read after it; other bytes
// still unread in the socket when TLS starts (commands pipelined after
// STARTTLS, CVE-2011-0411) go to the handshake, which fails on them.
func (s *Server) serveDelayed(conn *ssl.Conn, c *Description, scope uint32, ruleVars []string, spawned *bool) {
	t := s.TLS
	var files []*os.File
	var theirs []int
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
		for _, fd := range theirs {
			closeFD(fd)
		}
	}
	for range 3 {
		ours, fd, err := ssl.Socketpair()
		if err != nil {
			closeAll()
			s.dropped(c.Remote, c, &failure{"unable to create socketpair: ", err})
			conn.Close()
			return
		}
		files, theirs = append(files, ours), append(theirs, fd)
	}
	plain, ctl, secure := files[0], files[1], files[2]
	if t.Banner != "" {
		conn.SetWriteDeadline(t.deadline())
		_, err := io.WriteString(conn, t.Banner)
		conn.SetWriteDeadline(time.Time{})
		if err != nil {
			closeAll()
			s.dropped(c.Remote, c, &failure{"unable to print banner: ", err})
			conn.Close()
			return
		}
	}
	vars := append(t.vars(s.connVars(c, scope)),
		"SSLCTLFD="+strconv.Itoa(ctlFD), "SSLREADFD="+strconv.Itoa(readFD), "SSLWRITEFD="+strconv.Itoa(writeFD))
	env := t.environ(vars, ruleVars)
	pid := s.spawn(theirs[0], c, env, theirs[1], theirs[2], theirs[2])
	closeFD(theirs[1])
	closeFD(theirs[2])
	theirs = nil
	if pid == 0 {
		closeAll()
		conn.Close()
		return
	}
	*spawned = true
	defer func() {
		closeAll()
		conn.Close()
	}()

	// Plaintext until the program asks for TLS, if it does.
	var switching atomic.Bool
	p := &ssl.Pipe{Net: ssl.Plain{Conn: conn}, Sock: conn, Prog: plain, Idle: seconds(t.Idle), Fault: tlsFault, OnPanic: s.panicked,
		// A program switching to TLS often closes its plaintext
		// descriptors right after its request: that is no end to pass on.
		HoldEnd: func() bool { return switching.Load() || ssl.Pending(ctl) },
	}
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		p.Run()
	}()
	cmd, err := ssl.Command(ctl, &switching)
	if err != nil {
		<-relayed // no command: plaintext to the end
		return
	}
	p.Stop()
	<-relayed
	if cmd != 'y' && cmd != 'Y' {
		s.dropLine("unable to start TLS: ", errors.New("unknown UCSPI-TLS command "+strconv.QuoteRune(rune(cmd))))
		return
	}
	conn.SetDeadline(t.deadline())
	plain.SetDeadline(time.Time{})
	err = ssl.Drain(plain, conn) // the reply the program wrote before asking
	conn.SetDeadline(time.Time{})
	if err != nil {
		s.dropLine("unable to start TLS: ", err)
		return
	}
	tc, sslVars, err := s.handshake(conn, c, true)
	if err != nil {
		s.dropLine("unable to accept TLS: ", errors.New(ssl.Reason(err)))
		return
	}
	if s.log.verbose() {
		s.log.write(s.log.appendAccept(nil, pid, c))
	}
	if cmd == 'Y' {
		ctl.SetWriteDeadline(t.deadline())
		if _, err := ctl.Write(ssl.AppendEnv(nil, sslVars)); err != nil {
			s.dropLine("unable to write SSL environment: ", err)
			tc.Close()
			return
		}
	}
	ctl.Close() // nothing more to say there: the program reads its end
	plain.Close()
	p = &ssl.Pipe{Net: tc, Sock: conn, Prog: secure, Idle: seconds(t.Idle), Fault: tlsFault, OnPanic: s.panicked}
	p.Run()
	tc.Close()
}

// dropLine logs the drop of a connection whose program runs: its end is
// logged when the program exits.
func (s *Server) dropLine(what string, err error) {
	if s.log.verbosity >= 1 {
		s.log.write(s.log.appendDrop(nil, what, err))
	}
}
