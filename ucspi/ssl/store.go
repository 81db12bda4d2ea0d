package ssl

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Store holds the server's certificate and key and renews them without a
// restart: before a handshake, at most once a second, it looks at the files
// (device, inode, size, modification time) and reloads them when any changed.
// A reload that fails keeps the pair in use and is reported once: the files
// are not read again until they change again. No signal is involved: SIGHUP
// keeps the meaning it has for 0.88 and ucspi-ssl.
type Store struct {
	cert, key string // the key file, "" when the key is in cert
	password  []byte
	warn      func(error) // told of each failed reload

	pair    atomic.Pointer[tls.Certificate]
	checked atomic.Int64 // the second of the last look at the files

	mu     sync.Mutex
	stamps []stamp // the files as last read, successfully or not
}

// stamp is what tells that a file changed.
type stamp struct {
	dev, ino    uint64
	size, mtime int64
}

// NewStore loads cert and key (see LoadPair); warn gets the failures of later
// reloads.
func NewStore(cert, key string, password []byte, warn func(error)) (*Store, error) {
	s := &Store{cert: cert, key: key, password: password, warn: warn}
	s.stamps = s.look()
	pair, err := LoadPair(cert, key, password)
	if err != nil {
		return nil, err
	}
	s.pair.Store(pair)
	s.checked.Store(time.Now().Unix())
	return s, nil
}

// Pair is the certificate and key in use.
func (s *Store) Pair() *tls.Certificate { return s.pair.Load() }

// GetCertificate is Pair in tls.Config's shape; it notes the pair in the
// connection, if a Conn, for the -s variables.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	pair := s.pair.Load()
	if c, ok := hello.Conn.(*Conn); ok {
		c.Served = pair
	}
	return pair, nil
}

// Refresh reloads the files if they changed. It looks at most once a second:
// other callers in the same second return at once, as does the one that finds
// the files unchanged.
func (s *Store) Refresh(now time.Time) {
	sec := now.Unix()
	last := s.checked.Load()
	if sec == last || !s.checked.CompareAndSwap(last, sec) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stamps := s.look()
	if equal(stamps, s.stamps) {
		return
	}
	s.stamps = stamps
	pair, err := LoadPair(s.cert, s.key, s.password)
	if err != nil {
		if s.warn != nil {
			s.warn(err)
		}
		return
	}
	s.pair.Store(pair)
}

// look stamps the files; one that cannot be examined gets a zero stamp.
func (s *Store) look() []stamp {
	files := []string{s.cert}
	if s.key != "" && s.key != s.cert {
		files = append(files, s.key)
	}
	stamps := make([]stamp, len(files))
	for i, f := range files {
		var st syscall.Stat_t
		if err := syscall.Stat(f, &st); err == nil {
			stamps[i] = stamp{st.Dev, st.Ino, st.Size, st.Mtim.Nano()}
		}
	}
	return stamps
}

func equal(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ReadPassword reads a key password as ucspi-ssl's -3 does: up to a NUL byte
// or the end, from r.
func ReadPassword(r io.Reader) ([]byte, error) {
	var pw []byte
	buf := make([]byte, 256)
	for len(pw) <= maxPassword {
		n, err := r.Read(buf)
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return append(pw, buf[:i]...), nil
		}
		pw = append(pw, buf[:n]...)
		if err == io.EOF {
			return pw, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, errors.New("password too long")
}

// maxPassword bounds what ReadPassword takes from a descriptor without end.
const maxPassword = 64 << 10
