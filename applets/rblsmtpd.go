package applets

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/applets/internal/rblsmtpd"
	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/pathexec"
)

func init() {
	Register(&Applet{
		Name:    "rblsmtpd",
		Summary: "turn away SMTP clients listed in DNS blocklists, run the SMTP server for the others",
		Usage:   "rblsmtpd [ -b ] [ -R ] [ -t timeout ] [ -r base ] [ -a base ] smtpd [ arg ... ]",
		Setup:   rblsmtpdSetup,
		Fuse:    rblsmtpdFuse,
		Manual:  rblsmtpdManual,
	})
}

// lookupTimeoutVar names the variable that bounds each DNS lookup, in seconds.
const (
	lookupTimeoutVar = "RBLSMTPD_DNS_TIMEOUT"
	// defaultBaseVar names the list to use when no -r is given, where 0.88 had
	// rbl.maps.vix.com built in; unset, there is none.
	defaultBaseVar = "RBLSMTPD_DEFAULT_BASE"
)

// rblsmtpdOptions is rblsmtpd's command line: the lists, with the -b and -c
// settings each -r and -a met, and -t.
type rblsmtpdOptions struct {
	bounce, failClosed bool
	timeout            uint64
	sources            []rblsmtpd.Source
	rbls               int
}

func (o *rblsmtpdOptions) define(fs *pflag.FlagSet) {
	Choice(fs, &o.bounce, true, "bounce", "b", "reject a listed client with 553 (permanent)")
	Choice(fs, &o.bounce, false, "no-bounce", "B", "reject a listed client with 451 (temporary; the default)")
	Choice(fs, &o.failClosed, true, "fail-closed", "c", "a failed lookup blocks (-r) or does not accept (-a), with 451")
	Choice(fs, &o.failClosed, false, "fail-open", "C", "a failed lookup lists nobody (-r) or accepts (-a) (the default)")
	Number(fs, &o.timeout, 60, math.MaxUint64, "timeout", "t", "end the conversation with a blocked client after `timeout` seconds; 0: reject at once")
	fs.VarP(sourceOption{func(arg string) {
		o.sources = append(o.sources, rblsmtpd.Block(arg, o.bounce, o.failClosed))
		o.rbls++
	}}, "rbl", "r", "block clients listed under `base` (TXT), or with base:message (A record, %IP% is the client)")
	fs.VarP(sourceOption{func(arg string) {
		o.sources = append(o.sources, rblsmtpd.Allow(arg, o.failClosed))
	}}, "anti-rbl", "a", "accept clients listed under `base` (A record), skipping later lists")
}

// verdict is rblsmtpd's decision on the client its environment describes.
func (o *rblsmtpdOptions) verdict(getenv func(string) (string, bool)) rblsmtpd.Verdict {
	var env *string
	if v, ok := getenv("RBLSMTPD"); ok {
		env = &v
	}
	sources := o.sources
	// 0.88 added its default list after every option, with the last -b/-c.
	if base, _ := getenv(defaultBaseVar); o.rbls == 0 && base != "" {
		sources = append(sources[:len(sources):len(sources)], rblsmtpd.Block(base, o.bounce, o.failClosed))
	}
	remoteIP, _ := getenv("TCPREMOTEIP")
	timeout, _ := getenv(lookupTimeoutVar)
	lists := &rblsmtpd.Lists{Sources: sources, Resolver: dns.New(), Timeout: lookupTimeout(timeout)}
	return rblsmtpd.Decide(context.Background(), env, remoteIP, lists)
}

func rblsmtpdSetup(fs *pflag.FlagSet) Runner {
	o := &rblsmtpdOptions{}
	o.define(fs)
	return func(s *Stdio, operands []string) error {
		if len(operands) == 0 {
			return exit.Usage()
		}
		verdict := o.verdict(os.LookupEnv)
		if !verdict.Block {
			err := pathexec.Run(operands[0], operands, os.Environ())
			return exit.FatalSys(exit.Temporary, err, "unable to run ", operands[0], ": ")
		}
		reply := verdict.Reply()
		fmt.Fprintf(s.Err, "rblsmtpd: %s pid %d: %s\n", os.Getenv("TCPREMOTEIP"), os.Getpid(), reply)
		rblsmtpd.Converse(s.In, s.Out, reply+"\r\n", seconds(o.timeout))
		return nil
	}
}

// rblsmtpdFuse is rblsmtpd's decision made inside tcpserver: the smtpd command
// line for a client it would pass through; for one it would block, the real
// rblsmtpd with the verdict in $RBLSMTPD, so that it holds its dialogue
// without asking the DNS again; nothing for a command line it would refuse or
// a verdict it must reach itself.
func rblsmtpdFuse(args []string, getenv func(string) (string, bool)) (ucspi.Fused, bool) {
	o := &rblsmtpdOptions{}
	fs := fuseFlags()
	o.define(fs)
	operands, err := getopt(fs, args)
	if err != nil || len(operands) == 0 {
		return ucspi.Fused{}, false
	}
	// Set and not empty, $RBLSMTPD is a verdict already: the real rblsmtpd
	// blocks the client on it.
	if v, set := getenv("RBLSMTPD"); set && v != "" {
		return ucspi.Fused{}, false
	}
	// The resolver reads $DNSCACHEIP from our own environment: a rule that
	// changed it leaves the lookups to the real rblsmtpd.
	if v, _ := getenv("DNSCACHEIP"); v != os.Getenv("DNSCACHEIP") {
		return ucspi.Fused{}, false
	}
	v := o.verdict(getenv)
	switch {
	case v.Unsure:
		// A lookup that failed for want of the server's descriptors is the
		// real rblsmtpd's to make, with descriptors of its own.
		return ucspi.Fused{}, false
	case !v.Block:
		return ucspi.Fused{File: operands[0], Argv: operands}, true
	}
	if setting, ok := v.Setting(); ok {
		return ucspi.Fused{Setenv: []string{"RBLSMTPD=" + setting}}, true
	}
	return ucspi.Fused{}, false
}

// sourceOption is -r or -a: each occurrence adds a source, with the -b and -c
// settings of that moment.
type sourceOption struct{ add func(string) }

func (o sourceOption) String() string       { return "" }
func (o sourceOption) Type() string         { return "base" }
func (o sourceOption) Set(arg string) error { o.add(arg); return nil }

// seconds is -t's value as a duration; 0.88 handed it to alarm(), so anything
// past an unsigned int of seconds is, in practice, forever.
func seconds(n uint64) time.Duration {
	return time.Duration(min(n, math.MaxUint32)) * time.Second
}

// lookupTimeout is $RBLSMTPD_DNS_TIMEOUT's setting in seconds (fractions
// allowed), else 0: no bound but the time djb's retries take.
func lookupTimeout(setting string) time.Duration {
	if v, err := strconv.ParseFloat(setting, 64); err == nil && v > 0 && v < math.MaxInt64/float64(time.Second) {
		return time.Duration(v * float64(time.Second))
	}
	return 0
}

var rblsmtpdManual = Manual{
	Description: `rblsmtpd runs in front of an SMTP server (smtpd, usually qmail-smtpd) under tcpserver. Normally it runs smtpd in its own place: same process, same descriptors, nothing read from the client. But when told to block mail from this client, it does not run smtpd: it holds its own limited SMTP conversation, rejecting every attempt to send a message, and prints one line on descriptor 2: "rblsmtpd: IP pid PID: CODE TEXT".

The conversation: "220 rblsmtpd.local" to begin; "250 rblsmtpd.local" to HELO, EHLO, MAIL, RSET and NOOP; the rejection, CODE TEXT, to any other command; "221 rblsmtpd.local" to QUIT, which ends it. Lines end with CR LF. TEXT is cut to 200 bytes and every byte outside the printable ASCII range becomes "?". The conversation ends after timeout seconds (-t, 60 by default) whatever the client is doing; with -t 0 rblsmtpd sends the rejection at once and ends.

If $RBLSMTPD is set and empty, the client is not blocked and no list is consulted. If it is set and begins with "-", the client is blocked with code 553 (permanent) and the rest as text; any other value blocks with 451 (temporary) and the value as text. tcprules can set $RBLSMTPD for chosen clients.

Otherwise rblsmtpd looks $TCPREMOTEIP up in the lists given by -r and -a, in order, until one lists or anti-lists the client. "-r base": the client a.b.c.d is listed if d.c.b.a.base has a TXT record; its strings, joined, are the text. "-r base:message": listed if d.c.b.a.base has an A record in 127.0.0.0/8, the way today's lists (zen.spamhaus.org, bl.spamcop.net) answer; message is the text, with %IP% replaced by the client's address. An answer of 127.255.255.x (a list refusing the query) or outside 127.0.0.0/8 (a resolver making up answers) counts as a failed lookup. "-a base": anti-listed (accepted, later lists skipped) if d.c.b.a.base has any A record. An IPv6 client is looked up under the reversed nibbles of its address (RFC 5782); an IPv4-mapped address is looked up as IPv4. With no -r there is no list: see NOTES. A listed client gets 451 (-B, the default) or 553 (-b). Options apply to the -r and -a options after them.

Failed lookups: with -C (the default) a failed -r lookup lists nobody and a failed -a lookup anti-lists the client; with -c a failed -r lookup blocks the client with "451 temporary RBL lookup error" and a failed -a lookup anti-lists nobody. After a failed lookup any rejection uses 451, even with -b: a lookup failure never bounces mail.

NOTES

0.88 used rbl.maps.vix.com when no -r was given; that list is long gone, and Debian's build, like this one, consults no list by default. Lists change their policies, and a dead list's zone may come to list everyone, so a built-in default would be a hazard: name the lists you use, with -r or with $RBLSMTPD_DEFAULT_BASE. The lookups run at once and their answers are read in command-line order, which decides as 0.88 did in the time of the slowest lookup rather than the sum.`,
	Environment: `$RBLSMTPD and $TCPREMOTEIP as above. $DNSCACHEIP, one or more IP addresses (separated by dots, as djb's library reads it), sends the DNS queries to those servers instead of the ones in /etc/resolv.conf; /etc/hosts is never read. $RBLSMTPD_DNS_TIMEOUT bounds each lookup, in seconds (fractions allowed); by default a lookup takes as long as djb's DNS library would (it tries each server for 3, 11 and 45 seconds before giving up). $RBLSMTPD_DEFAULT_BASE, when set and no -r is given, is the list to consult (in either -r form), after the -a lists, as 0.88 consulted its built-in one.`,
	ExitStatus:  `100 for a usage error, 111 when smtpd cannot be run ("rblsmtpd: fatal: unable to run smtpd: REASON"), 0 at the end of a conversation; otherwise smtpd's own.`,
	Examples: `qmail's SMTP service, turning away the clients Spamhaus lists, except those the rules exempt with RBLSMTPD="":

  tcpserver -v -R -x /etc/tcp.smtp.cdb -u qmaild -g nofiles 0 smtp \
    rblsmtpd -r 'zen.spamhaus.org:Blocked: see https://check.spamhaus.org/?ip=%IP%' \
    /var/qmail/bin/qmail-smtpd`,
	SeeAlso: []string{"tcpserver", "tcprules"},
}
