package cdbrules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Problem is something tcprules -n found in a line.
type Problem struct {
	Line    int
	Fatal   bool // tcprules would refuse the whole file because of it
	Message string
}

func (p Problem) String() string {
	if p.Fatal {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("line %d: warning: %s", p.Line, p.Message)
}

// Check reads rules from in as Compile would, writing nothing, and reports
// every problem in input order: lines tcprules cannot compile (fatal), and
// warnings for rules that cannot do what they seem to say: a line without a
// colon (ignored), a key already given by an earlier line (never used: the
// first match wins), an IPv6 address not in the form tcpserver looks it up by,
// a CIDR prefix with host bits set, an address with a "/" that is not a CIDR
// prefix. It returns an error only when the input cannot be read.
func Check(in io.Reader, report func(Problem)) error {
	first := map[string]int{}
	var value []byte
	return eachLine(in, func(n int, line []byte) error {
		text := trim(line)
		addr, v, ok, err := parseLine(line, value[:0])
		value = v
		if err != nil {
			report(Problem{n, true, (&LineError{Text: text}).Error()})
			return nil
		}
		if !ok {
			if len(text) > 0 && text[0] != '#' {
				report(Problem{n, false, "no colon, line ignored: " + string(text)})
			}
			return nil
		}
		var shadowed []string
		var earlier int
		err = keys(addr, nil, func(k []byte) error {
			if m, dup := first[string(k)]; dup {
				if len(shadowed) == 0 {
					earlier = m
				}
				shadowed = append(shadowed, showKey(k))
				return nil
			}
			first[string(k)] = n
			return nil
		})
		switch {
		case errors.Is(err, errUnparsable):
			report(Problem{n, true, (&LineError{Text: text}).Error()})
			return nil
		case err != nil:
			report(Problem{n, true, (&LineError{Text: text, Err: err}).Error()})
			return nil
		}
		if msg := addressWarning(addr); msg != "" {
			report(Problem{n, false, msg})
		}
		switch len(shadowed) {
		case 0:
		case 1:
			report(Problem{n, false, fmt.Sprintf("rule %s: shadowed by line %d, which has the same key", shadowed[0], earlier)})
		default:
			report(Problem{n, false, fmt.Sprintf("%d keys shadowed by earlier lines (the first, %s, by line %d): %s",
				len(shadowed), shadowed[0], earlier, strings.Join(shadowed, " "))})
		}
		return nil
	})
}

// showKey writes a key the way tcprulescheck does, the default as ":".
func showKey(k []byte) string {
	if len(k) == 0 {
		return `"" (the default)`
	}
	return string(k)
}

// addressWarning says why an address that compiles cannot match what it seems
// to name, or "".
func addressWarning(addr []byte) string {
	a := string(addr)
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		a = a[i+1:]
	}
	if strings.HasPrefix(a, "=") {
		return ""
	}
	if strings.IndexByte(a, '/') >= 0 {
		p, ok := parseCIDR([]byte(a))
		switch {
		case !ok || len(a) != len(addr):
			return fmt.Sprintf("%s is not a CIDR prefix tcprules compiles (user@ cannot take one): it is a key no address matches", addr)
		case p.Masked() != p:
			return fmt.Sprintf("%s has host bits set: compiled as %s", addr, p.Masked())
		}
		return ""
	}
	if ip, err := netip.ParseAddr(a); err == nil && ip.Is6() {
		if c := CanonicalIP(a); c != a {
			return fmt.Sprintf("tcpserver looks %s up as %s, so this rule never matches it", a, c)
		}
	}
	if bytes.IndexByte(addr, 0) >= 0 {
		return "the address holds a NUL byte"
	}
	return ""
}
