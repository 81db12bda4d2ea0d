package applets

import (
	"bufio"
	"os"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	Register(&Applet{
		Name:    "tcprulescheck",
		Summary: "say what tcpserver's rules do with a connection",
		Usage:   "tcprulescheck rules.cdb",
		RawArgs: true,
		Setup: func(fs *pflag.FlagSet) Runner {
			// 0.88's tcprulescheck takes no options: this flag is only
			// documented here, tcprulescheck reads it itself.
			fs.BoolP("verbose", "v", false, "as the first of two or more arguments (not in 0.88): print try KEY: for every key looked up, in order, before the answer")
			return tcprulescheck
		},
		Manual: tcprulescheckManual,
	})
}

func tcprulescheck(s *Stdio, args []string) error {
	verbose := len(args) >= 2 && (args[0] == "-v" || args[0] == "--verbose")
	if verbose {
		args = args[1:]
	}
	if len(args) < 1 {
		return exit.Usage()
	}
	file := args[0]
	peer := cdbrules.Peer{IP: "0.0.0.0"}
	if ip, ok := os.LookupEnv("TCPREMOTEIP"); ok {
		peer.IP = ip
	}
	peer.Host, peer.HostKnown = os.LookupEnv("TCPREMOTEHOST")
	peer.Info, peer.InfoKnown = os.LookupEnv("TCPREMOTEINFO")

	out := bufio.NewWriter(s.Out)
	defer out.Flush()
	var tried func(string)
	if verbose {
		tried = func(key string) { out.WriteString("try " + key + ":\n") }
	}
	rules, err := cdbrules.Open(file)
	if err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to read ", file, ": ")
	}
	defer rules.Close()
	m, err := rules.Lookup(peer, tried)
	if err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to read ", file, ": ")
	}
	if !m.Found {
		out.WriteString("default:\nallow connection\n")
		return nil
	}
	out.WriteString("rule " + m.Key + ":\n")
	// As 0.88 prints it: every record up to the first deny.
	denied := false
	m.Records(func(deny bool, setting string) bool {
		if deny {
			denied = true
			return false
		}
		out.WriteString("set environment variable " + setting + "\n")
		return true
	})
	if denied {
		out.WriteString("deny connection\n")
	} else {
		out.WriteString("allow connection\n")
	}
	return nil
}

var tcprulescheckManual = Manual{
	Description: `tcprulescheck says what tcpserver -x rules.cdb would do with a connection from the IP address $TCPREMOTEIP, with host name $TCPREMOTEHOST and remote information (the ident user name) $TCPREMOTEINFO, following the rules compiled into rules.cdb by tcprules.

It prints the rule it found as rule KEY: (default: when none matched), then one line set environment variable VAR=value for each variable of the rule, then deny connection or allow connection. It looks up the address exactly as given (tcpserver itself looks an IPv4-mapped IPv6 peer up by its IPv4 address, and an IPv6 peer by its compact text, as ucspi-tcp-ipv6 does). tcprules(1) describes the order in which the keys are tried.`,
	Options:     `0.88's tcprulescheck takes no options and reads its first argument as the file even if it starts with a dash: so does this one, except for a first argument exactly -v (or --verbose) followed by another, the file. tcprulescheck -v alone still reads a file named -v.`,
	Environment: `$TCPREMOTEIP is the address looked up (0.0.0.0 when it is not set). $TCPREMOTEHOST and $TCPREMOTEINFO are the host name and the ident user name; a variable that is not set is unknown, and the rules needing it are skipped; one set to the empty string is known and empty.`,
	ExitStatus:  `0 when it gave an answer. 100 without a file argument. 111 when the file cannot be read or is not a cdb: tcprulescheck: fatal: unable to read rules.cdb: REASON (file does not exist; invalid argument for an empty file or one that is not a regular file, as with 0.88; protocol error for a corrupt or truncated file; is a directory).`,
	Examples: `What would a client at 10.1.2.3 get, and which keys are tried?

  TCPREMOTEIP=10.1.2.3 tcprulescheck /etc/tcp.smtp.cdb
  TCPREMOTEIP=10.1.2.3 TCPREMOTEHOST=mx.example.com tcprulescheck -v /etc/tcp.smtp.cdb`,
	SeeAlso: []string{"tcprules", "tcpserver"},
}
