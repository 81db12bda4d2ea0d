package cdbrules

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"

	"github.com/ucspi-go/ucspi/ucspi/scan"
)

// LineError is a line tcprules cannot compile.
type LineError struct {
	Number int    // the line's number in the input, from 1
	Text   []byte // the line without its trailing blanks
	Err    error  // nil for a line 0.88 cannot parse; else why it cannot be compiled
}

func (e *LineError) Error() string {
	// 0.88 prints the line as a C string: a NUL ends it.
	text := e.Text
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	if e.Err != nil {
		return e.Err.Error() + ": " + string(text)
	}
	return "unable to parse this line: " + string(text)
}

// errUnparsable is a line (or an address range) 0.88 cannot parse.
var errUnparsable = errors.New("unable to parse")

// parseLine parses one line of input, with or without its newline, as tcprules
// does, into its address (the text before the colon that ends it) and its cdb
// value ("D\0" for deny, then "+VAR=value\0" per variable), appended to value
// so that the compiler reuses one buffer for every line. ok is false for a line
// that compiles to nothing: a comment (# in the first column), a blank line, a
// line without a colon.
func parseLine(x, value []byte) (addr, val []byte, ok bool, err error) {
	if len(x) == 0 || x[0] == '#' || x[0] == '\n' {
		return nil, value, false, nil
	}
	for len(x) > 0 && (x[len(x)-1] == '\n' || x[len(x)-1] == ' ' || x[len(x)-1] == '\t') {
		x = x[:len(x)-1]
	}
	colon := addressEnd(x)
	if colon < 0 {
		return nil, value, false, nil
	}
	addr, x = x[:colon], x[colon+1:]
	switch {
	case bytes.HasPrefix(x, []byte("deny")):
		value = append(value, 'D', 0)
		x = x[4:]
	case bytes.HasPrefix(x, []byte("allow")):
		x = x[5:]
	default:
		return nil, value, false, errUnparsable
	}
	for len(x) > 0 {
		if x[0] != ',' {
			return nil, value, false, errUnparsable
		}
		// ",VAR=XvalueX": the name runs to the first "=", X is any byte.
		eq := bytes.IndexByte(x, '=')
		if eq < 0 || eq+1 == len(x) {
			return nil, value, false, errUnparsable
		}
		delim := x[eq+1]
		rest := x[eq+2:]
		end := bytes.IndexByte(rest, delim)
		if end < 0 {
			return nil, value, false, errUnparsable
		}
		value = append(value, '+')
		value = append(value, x[1:eq+1]...)
		value = append(value, rest[:end]...)
		value = append(value, 0)
		x = rest[end+1:]
	}
	return addr, value, true, nil
}

// addressEnd finds the colon that ends the address: the first one followed by
// "allow" or "deny", as in the IPv6 patch (so "::1:allow" has address "::1"),
// else the first one, as in 0.88, whose instructions then fail to parse. -1:
// no colon at all, a line 0.88 ignores.
func addressEnd(x []byte) int {
	first := bytes.IndexByte(x, ':')
	for i := first; i >= 0; {
		if rest := x[i+1:]; bytes.HasPrefix(rest, []byte("allow")) || bytes.HasPrefix(rest, []byte("deny")) {
			return i
		}
		j := bytes.IndexByte(x[i+1:], ':')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return first
}

// keys calls emit with every cdb key address a compiles into, in order:
//   - a CIDR prefix (10.0.0.0/8, 2001:db8::/32) becomes the prefix keys the
//     lookup tries (see cidrKeys);
//   - an address with a "-" and no "=" or "@" is a range in the octet holding
//     the "-": 1.2.3.4-10 is 1.2.3.4 to 1.2.3.10, 127.0-5. is 127.0. to
//     127.5., the top capped at 255, either end a decimal number or nothing (0);
//   - anything else is its own key.
//
// key is scratch space for the keys of a range.
func keys(a, key []byte, emit func([]byte) error) error {
	if bytes.IndexByte(a, '=') >= 0 || bytes.IndexByte(a, '@') >= 0 {
		return emit(a)
	}
	if p, ok := parseCIDR(a); ok {
		return cidrKeys(p, emit)
	}
	dash := bytes.IndexByte(a, '-')
	if dash < 0 {
		return emit(a)
	}
	left := bytes.LastIndexByte(a[:dash], '.') + 1
	right := dash + 1
	if i := bytes.IndexByte(a[right:], '.'); i >= 0 {
		right += i
	} else {
		right = len(a)
	}
	bot, ok1 := getnum(a[left:dash])
	top, ok2 := getnum(a[dash+1 : right])
	if !ok1 || !ok2 {
		return errUnparsable
	}
	top = min(top, 255)
	for ; bot <= top; bot++ {
		key = append(key[:0], a[:left]...)
		key = strconv.AppendUint(key, bot, 10)
		key = append(key, a[right:]...)
		if err := emit(key); err != nil {
			return err
		}
	}
	return nil
}

// getnum is 0.88's: b must be decimal digits (read by scan_ulong, which wraps
// around on overflow) up to its end or to a NUL, where C stops reading it.
func getnum(b []byte) (uint64, bool) {
	n, i := scan.Ulong(string(b))
	return n, i == len(b) || b[i] == 0
}

// parseCIDR recognises an address with a "/" that netip reads as a prefix.
func parseCIDR(a []byte) (netip.Prefix, bool) {
	if bytes.IndexByte(a, '/') < 0 {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(string(a))
	return p, err == nil
}
