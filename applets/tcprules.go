package applets

import (
	"bufio"
	"errors"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func init() {
	Register(&Applet{
		Name:    "tcprules",
		Summary: "compile rules for tcpserver into a cdb",
		Usage:   "tcprules rules.cdb rules.tmp",
		RawArgs: true,
		Setup: func(fs *pflag.FlagSet) Runner {
			// 0.88's tcprules takes no options: this flag is only documented
			// here, tcprules reads it itself, and only as its first argument.
			fs.BoolP("check", "n", false, "as the first argument: check the rules on standard input and report problems, writing nothing; any later arguments are ignored")
			return tcprules
		},
		Manual: tcprulesManual,
	})
}

func tcprules(s *Stdio, args []string) error {
	if len(args) > 0 && (args[0] == "-n" || args[0] == "--check") {
		return tcprulesCheck(s)
	}
	if len(args) < 2 {
		return exit.Usage()
	}
	return tcprulesError(cdbrules.Compile(s.In, args[0], args[1]))
}

// tcprulesError says what went wrong in 0.88's words.
func tcprulesError(err error) error {
	var le *cdbrules.LineError
	var fe *cdbrules.FileError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return exit.Fatal(exit.Permanent, le.Error())
	case errors.As(err, &fe):
		switch fe.Op {
		case "read":
			return exit.FatalSys(exit.Temporary, fe.Err, "unable to read input: ")
		case "create":
			return exit.FatalSys(exit.Temporary, fe.Err, "unable to create ", fe.Path, ": ")
		case "move":
			return exit.FatalSys(exit.Temporary, fe.Err, "unable to move ", fe.Path, " to ", fe.To, ": ")
		default:
			return exit.FatalSys(exit.Temporary, fe.Err, "unable to write to ", fe.Path, ": ")
		}
	}
	return exit.FatalSys(exit.Temporary, err, "")
}

// tcprulesCheck is tcprules -n: every problem on stdout, exit 100 if the rules
// would not compile.
func tcprulesCheck(s *Stdio) error {
	out := bufio.NewWriter(s.Out)
	fatal := false
	err := cdbrules.Check(s.In, func(p cdbrules.Problem) {
		fatal = fatal || p.Fatal
		out.WriteString(p.String() + "\n")
	})
	out.Flush()
	switch {
	case err != nil:
		return tcprulesError(err)
	case fatal:
		return exit.Status(exit.Permanent)
	}
	return nil
}

var tcprulesManual = Manual{
	Description: `tcprules reads rules from its standard input and writes them into rules.cdb, in the binary cdb format tcpserver -x reads. It writes them first to rules.tmp (created, or truncated if it exists), calls fsync, closes it and renames it over rules.cdb, so a running tcpserver sees either the old rules or the new ones, never part of either. rules.tmp and rules.cdb must be on the same file system. If a line cannot be parsed, tcprules says which and leaves rules.cdb alone. The cdb file is byte for byte the one ucspi-tcp 0.88's tcprules writes from the same input.

RULES

One rule a line: address:instruction, where instruction is allow or deny, optionally followed by environment variables, each written ,VAR=XvalueX where X is any character not in the value: 10.0.:allow,RELAYCLIENT="" or 127.0.0.1:allow,TCPLOCALHOST=/movie.edu/. tcpserver drops a connection whose rule says deny, and sets the variables of the rule that allowed it. Lines starting with # are comments; blank lines, lines without a colon, and trailing spaces and tabs are ignored. The address ends at the first colon followed by allow or deny, so IPv6 addresses need no quoting (::1:allow); if no colon is followed by either, the first colon ends it and the line cannot be parsed.

ADDRESSES

1.2.3.4 is one IPv4 address; 1.2.3. (ending in a dot) is every address starting so; the empty address is the default. An IPv6 address is written in the compact form tcpserver looks it up by (2001:db8::1, ::1; a lone zero group is compressed too, as ucspi-tcp-ipv6 does: 2001:db8::1:2:3:4:5), and an IPv6 prefix ends in a colon (2001:db8:1: is every address whose compact text starts so). =host.name is a host whose reverse DNS name tcpserver found (and verified), =.domain every host in that domain, = any host with a name. user@ in front of an address or a =host makes the rule apply only when tcpserver got that user name from the client's ident (RFC 1413) server.

RANGES

1.2.3.37-53 stands for 1.2.3.37, 1.2.3.38 and so on up to 1.2.3.53; 10.2-3. for 10.2. and 10.3. The range is in the part holding the dash; its top is capped at 255.

CIDR

Not in 0.88: 10.0.0.0/8, 192.168.16.0/20, 2001:db8::/32 compile into the prefix keys above, so the C tools read the file and apply them the same way: 10.0.0.0/8 is the key 10.; 192.168.16.0/20 the sixteen keys 192.168.16. to 192.168.31.; 1.2.3.0/25 the 128 addresses; 0.0.0.0/0 the keys 0. to 255.; 2001:db8::/32 the key 2001:db8:; 2001:db8::/31 the keys 2001:db8: and 2001:db9:; 2001:db8:0::/48 the keys 2001:db8:: and 2001:db8:0:; ::1/128 the key ::1. An IPv6 prefix with a zero group before its last group (2001:db8:0:1::/64, fe80::/64) cannot be compiled exactly, because the compact text 2001:db8::1: does not say how many zero groups :: stands for, and tcprules refuses it (exit 100), as it refuses a prefix longer than /112 holding an address whose text ends in :: (2001:db8::/128), since that text is also a prefix key. Past /112 the keys are the addresses themselves (2001:db8::2/127 is 2001:db8::2 and 2001:db8::3). An IPv4 prefix of length n gives 2^(8*ceil(n/8)-n) keys, an IPv6 one 2^(16*ceil(n/16)-n) covering values of its last group, each one or two keys. A prefix after user@ is not compiled: it stays a literal key, as under 0.88. An IPv4-mapped prefix (::ffff:10.0.0.0/104) compiles as the IPv4 one. Host bits are ignored (10.1.2.3/8 is 10.0.0.0/8). docs/rules.md lists every key each form produces.

ORDER

tcpserver and tcprulescheck try, in order, and follow the first rule found: user@ip, user@=host, ip, =host, the ip cut after each dot or colon from the longest (1.2.3., 1.2., 1.), =.domain for each dot of the host name from the left (=.b.c then =.c for a.b.c), =, and the default. Keys with a user are tried only when tcpserver knows the user, keys with = only when it knows the host name. Several rules may share a key; the first one in the input wins. An IPv4-mapped IPv6 peer is looked up as IPv4.

CHECKING

Not in 0.88: tcprules -n (or --check), as the first argument, reads the rules and writes nothing: it prints each problem on standard output as line N: ..., and exits 100 if a line could not be compiled, else 0. It reports lines that cannot be parsed, and warns of lines without a colon, rules shadowed by an earlier rule with the same key, IPv6 addresses not in the form tcpserver looks them up by, CIDR prefixes with host bits set, and addresses with a slash that are not CIDR prefixes. Any arguments after -n are ignored, so -n can be put in front of a usual command line.`,
	Options:     `0.88's tcprules takes no options, and neither does this one but for one extension: a first argument that is exactly -n or --check. Every other command line means what it meant under 0.88 (tcprules --help x writes a cdb called --help).`,
	Environment: `tcprules reads no environment variables.`,
	ExitStatus:  `0 when the cdb was written (or -n found nothing fatal). 100 for a usage error or a line that cannot be parsed (tcprules: fatal: unable to parse this line: LINE). 111 when it cannot create or write rules.tmp (unable to create, unable to write to), cannot read its input, or cannot rename rules.tmp to rules.cdb (unable to move rules.tmp to rules.cdb); the temporary file may be left behind, as with 0.88.`,
	Examples: `Compile qmail's SMTP rules, checking them first:

  tcprules -n < /etc/tcp.smtp && tcprules /etc/tcp.smtp.cdb /etc/tcp.smtp.tmp < /etc/tcp.smtp

where /etc/tcp.smtp holds, for example:

  127.:allow,RELAYCLIENT=""
  10.0.0.0/8:allow,RELAYCLIENT=""
  =.spammer.example:deny
  :allow`,
	SeeAlso: []string{"tcprulescheck", "tcpserver"},
}
