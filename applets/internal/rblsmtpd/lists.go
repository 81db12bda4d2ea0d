// Package rblsmtpd decides whether an SMTP client may reach the mail server, from
// $RBLSMTPD or from DNS blocklists (RBL sources) and allowlists (anti-RBL
// sources), and holds ucspi-tcp 0.88's limited SMTP conversation that turns a
// blocked client away.
package rblsmtpd

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Source is one -r or -a option, with the -b and -c settings in force where it
// stood on the command line: 0.88 looked each source up as getopt reached it, so
// "-b -r base" bounces and "-r base -b" does not.
type Source struct {
	Allow bool   // -a: an A record accepts the client, skipping later sources
	Base  string // the zone the reversed address is looked up under
	// Message, for "-r base:message", makes an A record block with this text
	// (%IP% standing for the client's address) instead of reading TXT records.
	Message    string
	HasMessage bool
	Bounce     bool // -b: a listing gets 553, not 451
	FailClosed bool // -c: a failed lookup blocks (-r) or does not accept (-a)
}

// Block is the source of "-r arg": a TXT list "base", or an A list
// "base:message", split at the first colon (domain names have none).
func Block(arg string, bounce, failClosed bool) Source {
	s := Source{Base: arg, Bounce: bounce, FailClosed: failClosed}
	if i := strings.IndexByte(arg, ':'); i >= 0 {
		s.Base, s.Message, s.HasMessage = arg[:i], arg[i+1:], true
		if s.Message == "" {
			s.Message = "%IP% is listed by " + s.Base
		}
	}
	return s
}

// Allow is the source of "-a base".
func Allow(base string, failClosed bool) Source {
	return Source{Allow: true, Base: base, FailClosed: failClosed}
}

// Resolver is the part of *dns.Resolver the lookups use: djb's dns_txt and
// dns_ip4.
type Resolver interface {
	TXT(ctx context.Context, name string) (string, error)
	IP4(ctx context.Context, name string) ([]netip.Addr, error)
}

// Lists are the sources to consult, in command-line order, and how long one
// lookup may take (0: as long as djb's retries take, about a minute for a
// silent server).
type Lists struct {
	Sources  []Source
	Resolver Resolver
	Timeout  time.Duration
}

// Verdict is what happens to the client: the SMTP server runs, or (Block) the
// client is turned away with Code (451 temporary, 553 permanent) and Text.
// Unsure says that a lookup it rests on failed for want of descriptors: a
// process of its own (0.88's rblsmtpd) would not have failed there.
type Verdict struct {
	Block  bool
	Code   int
	Text   string
	Unsure bool
}

// Setting is the $RBLSMTPD value that blocks with v's code and text, which
// Decide reads back as v; ok is false where there is none: an empty text (an
// empty $RBLSMTPD lets the client through), a temporary one beginning with
// "-" (it would read as permanent), one holding a NUL (no environment
// variable can).
func (v Verdict) Setting() (string, bool) {
	switch {
	case v.Text == "" || strings.IndexByte(v.Text, 0) >= 0:
		return "", false
	case v.Code == 553:
		return "-" + v.Text, true
	case v.Code == 451 && v.Text[0] != '-':
		return v.Text, true
	}
	return "", false
}

// LookupError is the text a fail-closed lookup failure blocks with.
const LookupError = "temporary RBL lookup error"

// Decide is the verdict for the client at remoteIP ($TCPREMOTEIP), given $RBLSMTPD
// (nil when unset). As under 0.88: an empty $RBLSMTPD accepts, "-text" bounces,
// "text" rejects temporarily, all without a lookup; otherwise the first source
// that lists or allow-lists the client decides, and a failed lookup, whatever
// -c says, makes any later rejection temporary.
func Decide(ctx context.Context, rblsmtpd *string, remoteIP string, l *Lists) Verdict {
	if rblsmtpd != nil {
		switch v := *rblsmtpd; {
		case v == "":
			return Verdict{}
		case v[0] == '-':
			return Verdict{Block: true, Code: 553, Text: v[1:]}
		default:
			return Verdict{Block: true, Code: 451, Text: v}
		}
	}
	ip, ok := ClientAddr(remoteIP)
	if !ok || len(l.Sources) == 0 {
		return Verdict{}
	}

	// 0.88 asked one source after another. Asking them all at once and reading
	// the answers in order gives the same verdict in the time of the slowest
	// lookup, not the sum; the ones still running when an earlier source decides
	// are cancelled.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make([]chan answer, len(l.Sources))
	for i, s := range l.Sources {
		answers[i] = make(chan answer, 1)
		go func() { answers[i] <- l.lookup(ctx, s, ip) }()
	}

	mustNotBounce, unsure := false, false
	decide := func(v Verdict) Verdict { v.Unsure = unsure; return v }
	for i, s := range l.Sources {
		a := <-answers[i]
		unsure = unsure || a.short
		switch {
		case a.failed && s.Allow:
			mustNotBounce = true
			if !s.FailClosed {
				return decide(Verdict{})
			}
		case a.failed:
			mustNotBounce = true
			if s.FailClosed {
				return decide(Verdict{Block: true, Code: 451, Text: LookupError})
			}
		case a.listed && s.Allow:
			return decide(Verdict{})
		case a.listed:
			code := 451
			if s.Bounce && !mustNotBounce {
				code = 553
			}
			return decide(Verdict{Block: true, Code: code, Text: a.text})
		}
	}
	return decide(Verdict{})
}

// answer is one source's reply: listed (with the text to use), not listed, or
// the lookup failed (short: for want of descriptors).
type answer struct {
	listed, failed, short bool
	text                  string
}

func (l *Lists) lookup(ctx context.Context, s Source, ip netip.Addr) answer {
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	// A name djb's library cannot encode (a label over 63 bytes) fails the
	// lookup before any question, for -c to catch.
	name := QueryName(ip, s.Base)
	if !s.Allow && !s.HasMessage {
		// A TXT list, as in 0.88: every string of every record, joined; an
		// empty text is no listing.
		text, err := l.Resolver.TXT(ctx, name)
		if err != nil {
			return answer{failed: true, short: shortage(err)}
		}
		return answer{listed: text != "", text: text}
	}
	// dns_ip4, as 0.88's -a: a name made of digits and dots (an empty base)
	// is read as addresses without a question.
	addrs, err := l.Resolver.IP4(ctx, name)
	if err != nil {
		return answer{failed: true, short: shortage(err)}
	}
	if s.Allow {
		// 0.88 accepted on any A record at all.
		return answer{listed: len(addrs) > 0}
	}
	return listing(addrs, strings.ReplaceAll(s.Message, "%IP%", ip.String()))
}

// shortage reports whether err is a want of descriptors.
func shortage(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// listing reads an A list's answer the way today's lists define it (RFC 5782):
// an address in 127.0.0.0/8 lists the client. Spamhaus and others answer
// 127.255.255.x to say they refused the query (from an open resolver, over the
// free quota), and a resolver that rewrites NXDOMAIN answers with an address of
// its own: neither is a listing, and neither may pass for a clean answer, so
// both count as a failed lookup (-c then blocks temporarily, -C lets the client
// through).
func listing(addrs []netip.Addr, text string) answer {
	bogus := false
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case !a.Is4() || a.As4()[0] != 127:
			bogus = true
		case a.As4()[1] == 255 && a.As4()[2] == 255:
			bogus = true
		default:
			return answer{listed: true, text: text}
		}
	}
	return answer{failed: bogus}
}
