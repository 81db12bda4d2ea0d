package ucspi

import (
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/startup"
)

// Server is tcpserver: what its options say, then Run.
type Server struct {
	Limit        uint64  // -c: at most this many connections in hand at once
	Backlog      uint64  // -b
	Rules        string  // -x: the rules cdb, read for every connection; "" for none
	AllowNoRules bool    // -X: a missing rules cdb allows everything
	Banner       string  // -B: written to the peer before anything else
	UID, GID     uint64  // -u, -g, -U: 0 leaves the id alone
	LocalHost    *string // -l: TCPLOCALHOST; nil means look it up
	RemoteHost   bool    // -h: look up TCPREMOTEHOST
	Paranoid     bool    // -p: keep TCPREMOTEHOST only if it maps back to the peer
	RemoteInfo   bool    // -r: ask the peer's ident server for TCPREMOTEINFO
	Timeout      uint64  // -t: seconds for the ident exchange
	KillOptions  bool    // -O: drop IP options (source routes)
	NoDelay      bool    // -D: TCP_NODELAY
	Verbosity    int     // 0 for -q, 1 for -Q, 2 for -v
	PrintPort    bool    // -1: print the bound port on stdout
	IPv4Only     bool    // -4
	Force6       bool    // -6: the IPv6 view of IPv4 peers too
	Interface    string  // -I: the interface of a link-local address
	ReusePort    bool    // --reuse-port: SO_REUSEPORT, for a successor to bind while we drain
	// TLS makes the server sslserver: each connection gets TLS (tls.go);
	// nil is tcpserver.
	TLS *TLS
	// Fuse, when set, lets the server do in-process the work of a program of
	// ours that would only decide and exec (argv0, rblsmtpd): given the file
	// the spawn found, its argv and its environment, it returns what that
	// program would do instead of running, or ok false when it must run.
	Fuse func(path string, argv, env []string) (step Fused, ok bool)

	// Past one machine (docs/tcpserver.md): PROXY headers from trusted
	// balancers, an inherited listener, per-client limits.
	ProxyFrom      []netip.Prefix // --proxy-from: the balancers; nil reads no header
	ProxyTimeout   uint64         // --proxy-timeout: seconds for the header
	ListenFD       *int           // --listen-fd: the inherited listener; nil for none
	Systemd        bool           // --systemd: the listener on descriptor 3, as LISTEN_PID and LISTEN_FDS say
	BacklogGiven   bool           // -b was given: an inherited listener listens again with it
	IPLimit        uint64         // -C: programs at once per client address; 0 for no limit
	IPLimitMessage *string        // -C's message, sent to a client over its limit

	log      logger
	kids     *children
	listener *Listener
	dns      *dns.Resolver
	tcp6Vars bool      // the TCP6* variables too: listening on IPv6 (0.88 sets none)
	argv     []string  // the program and its arguments
	path     []string  // $PATH's directories, for a program named without a slash
	env      []string  // our environment minus any inherited connection variables
	files    []uintptr // the program's 0, 1 (the connection, filled in) and 2 (our stderr, unless closed)

	admitted *admission // connections whose socket the server still holds (descriptors.go)
}

// Run is tcpserver from its operands (host port program [ arg ... ]) to the
// accept loop, which it never leaves but to exit: errors come back as
// exit.Error in 0.88's words.
func (s *Server) Run(operands []string) error {
	s.log.verbosity = s.Verbosity
	s.log.name = "tcpserver"
	if s.TLS != nil {
		s.log.name = "sslserver"
	}
	inherit, err := s.inherits() // then there are no host and port operands
	if err != nil {
		return err
	}
	var hostname string
	var port uint16
	if !inherit {
		if len(operands) < 2 {
			return exit.Usage()
		}
		hostname = operands[0]
		if port, err = Port(operands[1]); err != nil {
			return err
		}
		operands = operands[2:]
	}
	s.argv = operands
	if len(s.argv) == 0 {
		return exit.Usage()
	}

	if s.TLS == nil && os.Getenv("GOMAXPROCS") == "" {
		// One processor, as 0.88 was one process: tcpserver's work per
		// connection is a few system calls and a fork, and with a second
		// processor the runtime wakes an idle thread to look for work at
		// each of them, which doubled the server's CPU per connection.
		// sslserver's handshakes need every core.
		runtime.GOMAXPROCS(1)
	}
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		<-terms
		s.drain()  // sslserver --drain: its connections first
		os.Exit(0) // the programs running keep running
	}()
	// Caught rather than ignored, so that our stderr going away cannot kill
	// us while the programs, on exec, get SIGPIPE's default back.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	sigchld, err := startup.ChildSignals()
	if err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to catch SIGCHLD: ")
	}

	if err := s.prepareTLS(); err != nil {
		return err
	}
	s.dns = dns.New()
	if inherit {
		s.listener, err = s.inherit()
	} else {
		if s.Force6 && !s.IPv4Only && (hostname == "0" || hostname == "") {
			hostname = "::" // -6: both families, as ucspi-tcp-ipv6's default
		}
		var ip netip.Addr
		if ip, err = Host(s.dns, hostname, s.IPv4Only); err == nil {
			s.listener, err = Listen(ip, port, s.Backlog, s.Interface, s.ReusePort)
		}
	}
	if err != nil {
		return err
	}
	if s.TLS != nil {
		s.TLS.listening.Store(s.listener) // for drain, in the SIGTERM goroutine
	}
	s.tcp6Vars = s.listener.inet6

	if s.GID != 0 {
		if err := setGID(int(s.GID)); err != nil {
			return exit.FatalSys(exit.Temporary, err, "unable to set gid: ")
		}
	}
	if s.UID != 0 {
		if err := syscall.Setuid(int(s.UID)); err != nil {
			return exit.FatalSys(exit.Temporary, err, "unable to set uid: ")
		}
	}

	if s.PrintPort {
		os.Stdout.WriteString(strconv.Itoa(int(s.listener.Addr.Port())) + "\n")
	}
	s.closeStdio()
	s.prepareSpawn()
	s.kids = newChildren(s.Limit, &s.log, sigchld)
	s.kids.ips = s.ipRecord()
	s.admitted = newAdmission()
	go s.kids.reap()
	s.kids.status()
	settle(s.TLS == nil)
	s.acceptLoop()
	select {} // SIGTERM stopped the loop to drain: its goroutine exits
}

// setGID is djb's prot_gid: the supplementary groups become gid alone, then
// the group id. Go applies both to every thread of the process.
func setGID(gid int) error {
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return err
	}
	return syscall.Setgid(gid)
}

// closeStdio lets go of our stdin and stdout, as 0.88 closes them, so that
// whatever fed or read us (a pipe from a supervisor) does not wait on the
// server. They become /dev/null rather than closed so that no connection is
// ever accepted onto descriptor 0, 1 or 2; a stderr closed when tcpserver
// started stays closed for the programs, which get only descriptors 0 and 1
// then (the runtime has put /dev/null on it meanwhile: startup knows).
func (s *Server) closeStdio() {
	s.files = []uintptr{0, 0, 2}
	if startup.ClosedAtStart(2) {
		s.files = s.files[:2]
	}
	null, err := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		syscall.Close(0)
		syscall.Close(1)
		return
	}
	syscall.Dup3(null, 0, syscall.O_CLOEXEC)
	syscall.Dup3(null, 1, syscall.O_CLOEXEC)
	syscall.Close(null)
}

// acceptLoop is 0.88's main loop: wait while limit connections are in hand,
// accept, start the connection's work.
func (s *Server) acceptLoop() {
	var pacing backoff
	for {
		s.kids.waitRoom()
		s.admitted.admit()
		fd, remote, scope, err := s.listener.Accept()
		if err != nil {
			s.admitted.done()
			if s.listener.closed.Load() {
				return
			}
			pause, warning := pacing.failed(err, time.Now())
			if s.log.verbosity >= 1 && warning != "" {
				s.log.write(append(s.log.appendName(nil), warning...))
			}
			time.Sleep(pause)
			continue
		}
		pacing.succeeded()
		s.kids.add()
		go s.serve(fd, remote, scope)
	}
}

// backoff paces accept after failures of the server's own (out of descriptors
// or memory), where 0.88 retried at once and spun: a pause growing from 5 ms
// to 1 s, and a warning at most once a minute. A connection its peer abandoned
// before we took it is skipped at once, in silence.
type backoff struct {
	pause  time.Duration
	warned time.Time
}

// failed returns how long to wait after err, and the warning to print, if any.
func (b *backoff) failed(err error, now time.Time) (time.Duration, string) {
	if transient(err) {
		return 0, ""
	}
	b.pause = min(max(2*b.pause, 5*time.Millisecond), time.Second)
	if !b.warned.IsZero() && now.Sub(b.warned) < time.Minute {
		return b.pause, ""
	}
	b.warned = now
	return b.pause, "warning: unable to accept: " + exit.Reason(err) + "\n"
}

func (b *backoff) succeeded() { b.pause = 0 }

// transient errors concern one connection that is already gone.
func transient(err error) bool {
	switch err {
	case syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.ENETDOWN,
		syscall.ENOPROTOOPT, syscall.EHOSTDOWN, syscall.ENONET, syscall.EHOSTUNREACH,
		syscall.EOPNOTSUPP, syscall.ENETUNREACH, syscall.EPERM:
		return true
	}
	return false
}

// remoteText is the peer's address as the log's "from" line shows it.
func (s *Server) remoteText(remote netip.AddrPort) string {
	return ipText(remote.Addr(), s.Force6)
}
