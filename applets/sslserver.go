package applets

import (
	"math"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi"
)

func init() {
	Register(&Applet{
		Name:    "sslserver",
		Summary: "accept TLS connections and run a program for each",
		Usage: "sslserver [ -1346UXpPhHrRoOdDqQvVeEsSnNmzZ ] [ -c limit ] [ -x rules.cdb ] [ -B banner ] " +
			"[ -g gid ] [ -u uid ] [ -b backlog ] [ -l localname ] [ -t timeout ] [ -I interface ] " +
			"[ -T ssltimeout ] [ -w progtimeout ] host port program",
		Setup:  sslserverSetup,
		Manual: sslserverManual,
	})
}

// sslserverSetup is tcpserver's options with ucspi-ssl's defaults (-R -h)
// and ucspi-ssl's own.
func sslserverSetup(fs *pflag.FlagSet) Runner {
	t := &ucspi.TLS{Handshake: 26, Idle: 3600}
	// TCP_NODELAY by default, as ucspi-ssl's code has it (its manual, copied
	// from tcpserver's, says -d): a record's last segment and the close_notify
	// after it would otherwise wait for the client's delayed ACK.
	s := &ucspi.Server{Verbosity: 1, RemoteHost: true, KillOptions: true, NoDelay: true, TLS: t}
	Choice(fs, &s.Verbosity, 2, "verbose", "v", "print every status and connection line")
	Choice(fs, &s.Verbosity, 3, "tls-verbose", "V", "-v, and the protocol and cipher of each connection")
	Choice(fs, &s.Verbosity, 0, "quiet", "q", "print nothing, not even errors")
	Choice(fs, &s.Verbosity, 1, "errors", "Q", "print errors and warnings only (default)")
	Choice(fs, &s.RemoteHost, true, "remote-host", "h", "look up SSLREMOTEHOST in the DNS (default)")
	Choice(fs, &s.RemoteHost, false, "no-remote-host", "H", "do not look up SSLREMOTEHOST")
	Choice(fs, &s.Paranoid, true, "paranoid", "p", "keep SSLREMOTEHOST only if the name maps back to the address")
	Choice(fs, &s.Paranoid, false, "no-paranoid", "P", "trust the reverse lookup (default)")
	Choice(fs, &s.RemoteInfo, true, "remote-info", "r", "ask the peer's ident server for SSLREMOTEINFO")
	Choice(fs, &s.RemoteInfo, false, "no-remote-info", "R", "do not ask for SSLREMOTEINFO (default)")
	Choice(fs, &s.KillOptions, false, "ip-options", "o", "leave IP options alone")
	Choice(fs, &s.KillOptions, true, "kill-ip-options", "O", "kill IP options (default)")
	Choice(fs, &s.NoDelay, false, "delay", "d", "let the kernel delay small writes once TLS is up")
	Choice(fs, &s.NoDelay, true, "no-delay", "D", "never delay small writes: TCP_NODELAY (default)")
	Choice(fs, &s.PrintPort, true, "print-port", "1", "print the local port on stdout once listening")
	Choice(fs, &t.Password, true, "password", "3", "read the key's password from descriptor 3, up to a NUL")
	Choice(fs, &s.IPv4Only, true, "ipv4", "4", "IPv4 only")
	Choice(fs, &s.Force6, true, "ipv6-view", "6", "show IPv4 peers as IPv4-mapped IPv6 (PROTO=TCP6 with -e)")
	Choice(fs, &s.AllowNoRules, true, "allow-no-rules", "X", "a missing rules.cdb allows every connection")
	Choice(fs, &t.TCPVars, true, "tcp-env", "e", "set tcpserver's TCP* variables too, and PROTO=TCP or TCP6")
	Choice(fs, &t.TCPVars, false, "no-tcp-env", "E", "set the SSL* variables only, PROTO=SSL (default)")
	Choice(fs, &t.ModSSL, true, "ssl-env", "s", "set mod_ssl's SSL_* variables of the certificates and cipher")
	Choice(fs, &t.ModSSL, false, "no-ssl-env", "S", "do not set the SSL_* variables (default)")
	Choice(fs, &t.Delayed, true, "starttls", "n", "run the program at once, in plaintext, and start TLS when it asks (UCSPI-TLS)")
	Choice(fs, &t.Delayed, false, "no-starttls", "N", "start TLS at once (default)")
	Choice(fs, &t.ClientCert, ucspi.ClientCertMail, "client-cert", "m", "require a client certificate, verified against $CAFILE and $CADIR")
	Choice(fs, &t.ClientCert, ucspi.ClientCertHost, "client-cert-host", "z", "as -m, and the certificate must name SSLREMOTEHOST")
	Choice(fs, &t.ClientCert, ucspi.NoClientCert, "no-client-cert", "Z", "ask for no client certificate (default)")
	fs.StringVarP(&s.Rules, "rules", "x", "", "follow the rules in `rules.cdb`, re-read for each connection")
	fs.StringVarP(&t.Banner, "banner", "B", "", "write `banner` to each connection, through TLS (in clear with -n)")
	fs.VarP(localName{&s.LocalHost}, "local-name", "l", "use `localname` for SSLLOCALHOST instead of looking it up")
	fs.StringVarP(&s.Interface, "interface", "I", "", "the `interface` of a link-local IPv6 address")
	Number(fs, &s.Limit, 40, math.MaxUint64, "limit", "c", "run at most `limit` programs at once")
	Number(fs, &s.Backlog, 20, math.MaxUint32, "backlog", "b", "the kernel's `backlog` of connections not yet accepted")
	Number(fs, &s.Timeout, 26, math.MaxUint64, "timeout", "t", "give up on SSLREMOTEINFO after `timeout` seconds")
	Number(fs, &t.Handshake, 26, math.MaxUint64, "ssl-timeout", "T", "give up on a handshake after `ssltimeout` seconds")
	Number(fs, &t.Idle, 3600, math.MaxUint64, "idle-timeout", "w", "drop a connection silent both ways for `progtimeout` seconds")
	fs.VarP(userID{&s.UID}, "uid", "u", "switch to user `uid` once listening: a number, or a name from /etc/passwd")
	fs.VarP(groupID{&s.GID}, "gid", "g", "switch to group `gid` once listening: a number, or a name from /etc/group")
	fs.VarPF(envIDs{&s.UID, &s.GID}, "env-ids", "U", "take -u and -g from $UID and $GID, where set").NoOptDefVal = "true"
	Number(fs, &t.Drain, 0, math.MaxUint64, "drain", "", "on SIGTERM, stop accepting and give the connections `n` seconds to end")
	fs.BoolVar(&s.ReusePort, "reuse-port", false, "listen with SO_REUSEPORT, so that a new server can take the port over")
	return serverRunner(fs, s, "sslserver")
}

var sslserverManual = Manual{
	Description: `sslserver is tcpserver with TLS, compatible with ucspi-ssl's sslserver: run
scripts written for it work by name. It waits for TCP connections to host and
port; for each it looks up the names and the rules as tcpserver does (a client
the rules deny gets no handshake), makes the TLS handshake within -T seconds,
writes the -B banner through TLS, and runs program with descriptors 0 and 1 on
a socketpair whose other end the server relays to and from the TLS connection.
The end of the client's data is the end of the program's input; the end of the
program's output is the end of the connection's (close_notify, then FIN); -w
drops a connection silent both ways for that long (default 3600 seconds).

The certificate and key are renewed without a restart: before a handshake, at
most once a second, the files are looked at (inode, size, modification time)
and reloaded when changed. A reload that fails keeps the pair in use, with
"sslserver: warning: unable to reload certificate FILE: REASON" once. With -u
the files must be readable by that user. SIGHUP means nothing special.

Client certificates: -m requires one, verified; -z also requires that it name
SSLREMOTEHOST (or the client's address when the name is unknown); a rule
setting CCAVERIFY requires one for its connections. A connection that fails is
dropped before its program runs: "sslserver: warning: dropping connection,
unable to accept TLS: REASON", REASON being "no client certificate", "client
certificate not trusted", "client certificate expired", "client name does not
match", or for any other failed handshake (plaintext, garbage, no ClientHello
within -T) what went wrong; then "end 0 status 28416" as for tcpserver's
dropped connections.

-n (UCSPI-TLS, for STARTTLS) runs the program at once, in plaintext (-B in
clear), with SSLCTLFD=3, SSLREADFD=4 and SSLWRITEFD=5. Writing "y" to SSLCTLFD
starts TLS on the connection; the program then reads and writes descriptors 4
and 5. "Y" does the same, and first the program reads the -s variables from
SSLCTLFD, each VAR=value and a NUL, then a final NUL. If SSLCTLFD ends without
a command the connection stays in plaintext. sslserver does not set UCSPITLS,
the variable that tells programs like mailfront to offer STARTTLS: set it in a
rule (:allow,UCSPITLS=""). Bytes the client sent in clear never reach the
program on SSLREADFD; bytes still unread when TLS starts (commands pipelined
after STARTTLS) make the handshake fail, and the connection is dropped.

-v logs as tcpserver does, "sslserver: " first; -V adds "sslserver: ssl P
accept TLSv1.3:TLS_AES_128_GCM_SHA256" for each handshake. P is the program's
process id.

TLS runs inside the server, a pair of goroutines per connection: no process per
connection besides the program, and a fault in one connection's goroutines ends
that connection only. On SIGTERM the server stops accepting and exits at once,
which ends the live connections (their programs see the end of their input);
--drain n first gives them up to n seconds, and with --reuse-port a new server
can listen on the port meanwhile. (Under ucspi-ssl each connection's process
outlived the server.)`,
	Environment: `The program's environment: PROTO=SSL, SSLLOCALIP, SSLLOCALPORT, SSLLOCALHOST,
SSLREMOTEIP, SSLREMOTEPORT, SSLREMOTEHOST, SSLREMOTEINFO (unset when unknown).
-e also sets tcpserver's TCP* (and TCP6*) variables, PROTO then being TCP or
TCP6, for a program written for tcpserver. -s sets mod_ssl's variables:
SSL_PROTOCOL (TLSv1.3), SSL_CIPHER (OpenSSL's name), SSL_CIPHER_USEKEYSIZE,
SSL_CIPHER_ALGKEYSIZE, SSL_VERSION_INTERFACE, SSL_VERSION_LIBRARY, and for the
server's certificate and the client's (if one was sent) SSL_SERVER_S_DN,
SSL_SERVER_I_DN (/C=DE/O=Example/CN=mx), their components _C _ST _L _O _OU _CN
_Email, SSL_SERVER_M_SERIAL (decimal), SSL_SERVER_V_START, SSL_SERVER_V_END
(Nov 30 11:42:07 2026 GMT), SSL_SERVER_CERT (PEM), the same with SSL_CLIENT_,
and SSL_CLIENT_VERIFY (SUCCESS or NONE).

Read at start, before listening: $CERTFILE, or $CERTCHAINFILE (which wins: the
certificates in any order, the leaf being the one matching the key); $KEYFILE
(unset or empty: the key is in the certificate file); with -3 the key's
password, up to a NUL on descriptor 3 (keys encrypted the legacy PEM way;
encrypted PKCS#8 is refused); $CAFILE and $CADIR, the authorities a client
certificate is verified against, $VERIFYDEPTH deep (default 1: one
intermediate); $CCAFILE, the authorities named in the certificate request ("-":
never ask for one); $CIPHERS, an OpenSSL cipher list of which the TLS 1.2 suite
names are honoured (a warning names the rest); $DHFILE is ignored with a
warning. A certificate that cannot be used stops the server: "sslserver:
fatal: unable to load certificate FILE: REASON", exit 111. An expired one only
warns. TLS 1.2 and 1.3 only.`,
	ExitStatus: `0 on SIGTERM. 100 for a usage error, 111 when it cannot
start.`,
	Examples: `An SMTP service on port 465 with qmail, its certificate renewed in place:

  CERTFILE=/etc/ssl/mx.pem KEYFILE=/etc/ssl/mx.key \
    sslserver -v -e -x /etc/tcp.smtp.cdb -u qmaild -g nofiles \
    0 465 /var/qmail/bin/qmail-smtpd 2>&1 | multilog t /var/log/smtps

STARTTLS on port 25 with mailfront, which offers it when a rule sets UCSPITLS:

  echo ':allow,UCSPITLS=""' | tcprules /etc/tcp.smtp.cdb /etc/tcp.smtp.tmp
  CERTFILE=/etc/ssl/mx.pem PLUGINS=starttls-ucspi:accept \
    sslserver -n -x /etc/tcp.smtp.cdb 0 25 mailfront smtp qmail`,
	SeeAlso: []string{"sslclient", "tcpserver", "tcprules", "openssl-s_client(1)", "multilog(8)"},
}
