package ucspi

import (
	"sync"
	"syscall"
	"unsafe"
)

// children counts the connections in hand, from accept until their program
// exits or until the connection is dropped, and holds the accept loop while
// there are limit of them. The programs are reaped by one SIGCHLD-driven
// wait4(-1, WNOHANG) loop, so the server keeps no descriptor, no thread and,
// unless a per-IP limit is in play (ips), no record per running program, and
// its cost does not grow with their number.
type children struct {
	mu    sync.Mutex
	room  sync.Cond
	n     uint64
	limit uint64
	log   *logger
	ips   *ipLimits // the per-IP record, nil when no limit is in play

	// signals counts SIGCHLDs not yet looked at (startup.ChildSignals).
	signals syscall.RawConn

	// spawning is read-held by each spawn from the fork until its log lines
	// are out; the reaper write-holds it while it waits for children. So an
	// "end" line never comes before its "ok" line, and the reaper never takes
	// the failed child that the spawn itself waits for.
	spawning sync.RWMutex
}

func newChildren(limit uint64, log *logger, signals syscall.RawConn) *children {
	c := &children{limit: limit, log: log, signals: signals}
	c.room.L = &c.mu
	return c
}

// status prints "status: N/LIMIT" (verbose) and nothing else.
func (c *children) status() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log.verbose() {
		c.log.write(c.log.appendStatus(nil, c.n, c.limit))
	}
}

// waitRoom returns once fewer than limit connections are in hand. Only the
// accept loop adds to them, so there is still room when it accepts.
func (c *children) waitRoom() {
	c.mu.Lock()
	for c.n >= c.limit {
		c.room.Wait()
	}
	c.mu.Unlock()
}

// add counts a connection just accepted. Children that ended before it came
// are collected first, as 0.88's SIGCHLD handler had run before its accept
// returned: their "end" lines come before this connection's status. Only
// when a SIGCHLD has come: wait4(-1) walks the list of every running child.
func (c *children) add() {
	ended := c.signaled()
	if ended {
		c.spawning.Lock()
		defer c.spawning.Unlock()
	}
	c.mu.Lock()
	var b []byte
	if ended {
		b = c.collect(b)
	}
	c.n++
	if c.log.verbose() {
		b = c.log.appendStatus(b, c.n, c.limit)
	}
	c.log.write(b)
	c.mu.Unlock()
}

// signaled reports whether SIGCHLD has come since the last look, and takes
// the count.
func (c *children) signaled() bool {
	got := false
	c.signals.Control(func(fd uintptr) { got = takeCount(fd) == 0 })
	return got
}

// takeCount reads the SIGCHLD count off the eventfd fd, which resets it:
// EAGAIN when it was 0.
func takeCount(fd uintptr) syscall.Errno {
	var count uint64
	_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&count)), 8)
	return e
}

// drop ends a connection that got no program: lines (its log lines, already
// formatted) go out, then, as 0.88 would have logged its child's death,
// "end 0 status WSTAT" and the new status.
func (c *children) drop(lines []byte, wstat uint32) {
	c.mu.Lock()
	if c.n > 0 {
		c.n--
	}
	if c.log.verbose() {
		lines = c.log.appendEnd(lines, 0, wstat)
		lines = c.log.appendStatus(lines, c.n, c.limit)
	}
	c.log.write(lines)
	c.room.Broadcast()
	c.mu.Unlock()
}

// forkFailed ends a connection whose program could not be forked: 0.88's
// parent counts it out without an "end" line.
func (c *children) forkFailed(lines []byte) {
	c.mu.Lock()
	if c.n > 0 {
		c.n--
	}
	if c.log.verbose() {
		lines = c.log.appendStatus(lines, c.n, c.limit)
	}
	c.log.write(lines)
	c.room.Broadcast()
	c.mu.Unlock()
}

// reap collects the children that have ended each time SIGCHLD arrives, as
// a count to read on c.signals (startup.ChildSignals; signals merge, so each
// wake-up collects all there are).
func (c *children) reap() {
	drained := func(fd uintptr) bool { return takeCount(fd) != syscall.EAGAIN }
	var b []byte
	for c.signals.Read(drained) == nil {
		c.spawning.Lock()
		c.mu.Lock()
		b = c.collect(b[:0])
		c.log.write(b)
		c.mu.Unlock()
		c.spawning.Unlock()
	}
}

// collect waits for every child that has ended, appending "end P status
// WSTAT" and the status after each to b, and wakes the accept loop if any
// did. The caller holds spawning and mu.
func (c *children) collect(b []byte) []byte {
	ended := false
	for {
		pid, ws := reapOne()
		if pid <= 0 {
			break
		}
		ended = true
		c.ips.ended(pid)
		if c.n > 0 {
			c.n--
		}
		if c.log.verbose() {
			b = c.log.appendEnd(b, pid, uint32(ws))
			b = c.log.appendStatus(b, c.n, c.limit)
		}
	}
	if ended {
		c.room.Broadcast()
	}
	return b
}
