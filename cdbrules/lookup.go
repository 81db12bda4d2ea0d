package cdbrules

import (
	"bytes"
	"io/fs"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/ucspi-go/ucspi/cdbrules/cdb"
)

// Decision is the outcome of a rules lookup.
type Decision struct {
	Key   string // the rule key that matched; "" when none did (the default)
	Found bool   // a rule matched
	Deny  bool
	Env   []string // "VAR=value" from the matched rule, in rule order
}

// LookupFile is tcpserver's lookup: it looks p up in the cdb at path in 0.88's
// search order (see Rules.Lookup). A missing file returns an error satisfying
// errors.Is(err, fs.ErrNotExist) (tcpserver -X treats that as allow). Where
// 0.88 opens and maps the file for every connection, LookupFile keeps the last
// file mapped and only stats it (see mapped): the answers are the same. It is
// safe to call from several goroutines.
func LookupFile(path string, p Peer) (Decision, error) {
	var d Decision
	err := mapped.use(path, func(r *Rules) error {
		m, err := r.Lookup(p, nil)
		if err != nil {
			return &fs.PathError{Op: "read", Path: path, Err: err}
		}
		d = m.Decision()
		return nil
	})
	return d, err
}

// mapped keeps the last rules file LookupFile opened mapped, so that a lookup
// per connection costs one stat instead of an open, a mapping, page faults, an
// unmapping and a close. The file is opened afresh, as 0.88 opens it for every
// connection, whenever stat says it is not the file mapped: another inode (a
// new cdb renamed over it, as tcprules does), another size, another
// modification or change time (rewritten in place, chmod). A file that cannot
// be stat'ed is opened anyway, for 0.88's error.
var mapped fileCache

type fileCache struct {
	mu    sync.Mutex
	path  string
	id    fileID
	rules *Rules
}

type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime syscall.Timespec
}

func (c *fileCache) use(path string, fn func(*Rules) error) error {
	var st syscall.Stat_t
	statErr := syscall.Stat(path, &st)
	id := fileID{uint64(st.Dev), st.Ino, st.Size, st.Mtim, st.Ctim}
	c.mu.Lock()
	defer c.mu.Unlock()
	if statErr == nil && c.rules != nil && c.path == path && c.id == id {
		return fn(c.rules)
	}
	if c.rules != nil {
		c.rules.Close()
		c.rules = nil
	}
	r, err := Open(path)
	if err != nil {
		return err
	}
	if statErr != nil {
		defer r.Close()
		return fn(r)
	}
	c.path, c.id, c.rules = path, id, r
	return fn(r)
}

// Peer is a connection as rules.c sees it. An unknown host or info (0.88's null
// pointer) differs from a known empty one: TCPREMOTEHOST= set to nothing still
// makes tcprulescheck try the "=" keys.
type Peer struct {
	IP        string
	Host      string
	HostKnown bool
	Info      string
	InfoKnown bool
}

// Match is what a lookup found: the key of the first matching rule and its raw
// cdb value, or Found false when no rule matched, not even the default.
type Match struct {
	Key   string
	Data  []byte
	Found bool
}

// Records calls fn with each record of the rule's value, in order, as 0.88
// reads it: every NUL-terminated record counts, a last one missing its NUL does
// not. deny is true for a "D" record; otherwise setting is what follows the "+"
// of a "+VAR=value" record. Records of any other kind are skipped. fn returns
// false to stop.
func (m Match) Records(fn func(deny bool, setting string) bool) {
	data := m.Data
	for {
		end := bytes.IndexByte(data, 0)
		if end < 0 {
			return
		}
		rec := data[:end]
		data = data[end+1:]
		var more bool
		switch {
		case len(rec) > 0 && rec[0] == 'D':
			more = fn(true, "")
		case len(rec) > 0 && rec[0] == '+':
			more = fn(false, string(rec[1:]))
		default:
			more = true
		}
		if !more {
			return
		}
	}
}

// Decision reads the rule's value as tcpserver 0.88 does: any "D" record
// denies, and each "+VAR=value" record sets a variable (one without "=" is
// skipped).
func (m Match) Decision() Decision {
	d := Decision{Key: m.Key, Found: m.Found}
	m.Records(func(deny bool, setting string) bool {
		switch {
		case deny:
			d.Deny = true
		case strings.IndexByte(setting, '=') >= 0:
			d.Env = append(d.Env, setting)
		}
		return true
	})
	return d
}

// Rules is an open rules cdb.
type Rules struct {
	data   []byte // the file's bytes, mapped when mapped is set
	r      *cdb.Reader
	mapped bool
}

// Open maps the cdb at path for reading. Like 0.88 it opens without blocking (a
// FIFO does not hang) and gives "invalid argument" for a file it cannot map: an
// empty file, a FIFO, a device. A directory, where 0.88 crashes, is "is a
// directory".
func Open(path string) (*Rules, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	switch {
	case st.Mode&syscall.S_IFMT == syscall.S_IFDIR:
		return nil, &fs.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size <= 0:
		return nil, &fs.PathError{Op: "read", Path: path, Err: syscall.EINVAL}
	}
	// cdb positions are 32-bit: nothing past 4 GiB can be reached.
	size := min(st.Size, 0xffffffff)
	b, err := syscall.Mmap(fd, 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, &fs.PathError{Op: "mmap", Path: path, Err: err}
	}
	return &Rules{data: b, r: cdb.NewReader(b), mapped: true}, nil
}

// newRules looks rules up in a cdb held in memory.
func newRules(b []byte) *Rules { return &Rules{data: b, r: cdb.NewReader(b)} }

// Close unmaps the file.
func (r *Rules) Close() error {
	if !r.mapped || r.data == nil {
		return nil
	}
	err := syscall.Munmap(r.data)
	r.data, r.r = nil, cdb.NewReader(nil)
	return err
}

// Lookup searches in the order of 0.88's rules.c, with the IPv6 patch's colon
// prefixes: info@ip, info@=host, ip, =host, the ip cut after each "." or ":"
// from the longest, =.domain for each dot in host from the left, =, and the
// empty default. The host keys are tried only when the host is known, the info
// keys only when the info is. tried, if not nil, sees every key before it is
// looked up. The ip is used as given: see CanonicalIP.
func (r *Rules) Lookup(p Peer, tried func(key string)) (m Match, err error) {
	if r.mapped {
		// A file truncated while mapped faults on the pages past its new end;
		// make that an error, not the death of the whole server.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if e := recover(); e != nil {
				if _, fault := e.(interface{ Addr() uintptr }); !fault {
					panic(e)
				}
				m, err = Match{}, cdb.ErrFormat
			}
		}()
	}
	return r.lookup(p, tried)
}

func (r *Rules) lookup(p Peer, tried func(key string)) (Match, error) {
	s := search{r: r.r, tried: tried, key: make([]byte, 0, 64)}
	ip, host, info := p.IP, p.Host, p.Info
	if p.InfoKnown {
		if s.try(info, "@", ip) {
			return s.m, s.err
		}
		if p.HostKnown && s.try(info, "@=", host) {
			return s.m, s.err
		}
	}
	if s.try("", "", ip) {
		return s.m, s.err
	}
	if p.HostKnown && s.try("", "=", host) {
		return s.m, s.err
	}
	for n := len(ip); n > 0; n-- {
		if c := ip[n-1]; (c == '.' || c == ':') && s.try("", "", ip[:n]) {
			return s.m, s.err
		}
	}
	if p.HostKnown {
		for i := 0; i < len(host); i++ {
			if host[i] == '.' && s.try("", "=", host[i:]) {
				return s.m, s.err
			}
		}
		if s.try("", "=", "") {
			return s.m, s.err
		}
	}
	s.try("", "", "")
	return s.m, s.err
}

// search is one lookup in progress; try reports whether it is over (a rule
// matched or the file could not be read).
type search struct {
	r     *cdb.Reader
	tried func(string)
	key   []byte
	m     Match
	err   error
}

func (s *search) try(a, b, c string) bool {
	s.key = append(append(append(s.key[:0], a...), b...), c...)
	if s.tried != nil {
		s.tried(string(s.key))
	}
	data, found, err := s.r.Find(s.key)
	if err != nil {
		s.err = err
		return true
	}
	if !found {
		return false
	}
	s.m = Match{Key: string(s.key), Data: bytes.Clone(data), Found: true}
	return true
}

// CanonicalIP is the text tcpserver looks an address up by: an IPv4-mapped
// address as its dotted quad, any other IPv6 address in the compact form of the
// IPv6 patch's ip6_fmt (so rules written for ucspi-tcp-ipv6 match), without a
// zone. Text that is not an IP address is returned as it is.
func CanonicalIP(ip string) string {
	if !containsColon(ip) {
		return ip
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.WithZone("")
	if a.Is4In6() {
		return a.Unmap().String()
	}
	return FormatIP6(a.As16())
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}
