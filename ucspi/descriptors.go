package ucspi

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// In 0.88 each connection's descriptors (its socket, the DNS and ident
// sockets, the rules file, the pipe of the fork) live in its own forked
// child; here they all live in the server, so the server can run short where
// 0.88 never did. A shortage must delay a connection, never drop it nor change
// what it gets (a DNS socket that cannot be opened must not leave
// TCPREMOTEHOST unset and let "=host:deny" fail open). Two things see to it:
//
//   - admission: the accept loop takes a connection only while the
//     descriptors the connections in hand may need are free (its socket and
//     one for its lookups or the rules file, and one more, for all of them,
//     for the fork's pipe), so that the work in hand can always go on and no
//     set of connections can wait on each other;
//   - retry: a step that meets EMFILE or ENFILE all the same (the Go runtime
//     opens a descriptor, rblsmtpd's lists are asked at once inside the
//     server, the whole system is short) waits and tries again.

// perConnection is what a connection holds in the server while it is looked
// up: its socket and one DNS, ident or rules descriptor. The fork's pipe
// takes two, the second from forkSpare, which connections share: a fork is
// over in a moment.
const (
	perConnection = 2
	forkSpare     = 1
)

// slack is what the admission leaves aside for the server itself (the Go
// runtime opening a descriptor of its own).
const slack = 2

// admission counts the connections between accept and the moment the server
// lets go of their socket, and holds the accept loop while there are as many
// as the descriptors allow.
type admission struct {
	mu   sync.Mutex
	room sync.Cond
	n    int
	max  int
}

// newAdmission sizes the admission from the descriptor limit and what is open
// now (the listener, the poller, standard descriptors, the runtime's own).
func newAdmission() *admission {
	a := &admission{max: 1 << 30}
	a.room.L = &a.mu
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur > 1<<20 {
		return a
	}
	a.max = max(1, (int(lim.Cur)-openDescriptors()-slack-forkSpare)/perConnection)
	return a
}

// openDescriptors counts this process's open descriptors.
func openDescriptors() int {
	names, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 16 // no /proc: a guess at what a server holds
	}
	return len(names) - 1 // the directory read has one of its own
}

// admit returns once a connection more can be taken.
func (a *admission) admit() {
	a.mu.Lock()
	for a.n >= a.max {
		a.room.Wait()
	}
	a.n++
	a.mu.Unlock()
}

// done counts out a connection whose socket the server has let go.
func (a *admission) done() {
	a.mu.Lock()
	a.n--
	a.room.Signal()
	a.mu.Unlock()
}

// shortage reports whether err is a want of descriptors, the process's or the
// system's.
func shortage(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// Waiting for descriptors: pauses from 5 ms doubling to 1 s, for at most two
// minutes in all, after which the step fails as it would have at once.
const (
	firstPause = 5 * time.Millisecond
	lastPause  = time.Second
	mostWait   = 2 * time.Minute
)

// whenDescriptors runs step, and again after a pause each time it fails for
// want of descriptors, until it succeeds or fails otherwise (or the wait
// grows past mostWait).
func whenDescriptors[T any](step func() (T, error)) (T, error) {
	v, err := step()
	pause, waited := firstPause, time.Duration(0)
	for shortage(err) && waited < mostWait {
		time.Sleep(pause)
		waited += pause
		pause = min(2*pause, lastPause)
		v, err = step()
	}
	return v, err
}
