package ucspi

import (
	"os"
	"syscall"

	"github.com/ucspi-go/ucspi/ucspi/pathexec"
	"github.com/ucspi-go/ucspi/ucspi/startup"
)

// prepareSpawn computes once what every spawn shares: the environment without
// inherited connection variables and the directories of $PATH.
func (s *Server) prepareSpawn() {
	s.env = Environment(os.Environ(), nil)
	s.path = pathexec.Path(os.LookupEnv)
}

// spawn starts the program with the connection as its descriptors 0 and 1 (a
// blocking socket, accept4 having made it so) and our stderr as its 2, then
// lets go of the connection: the program is the only one holding it. fork is
// vfork-style (CLONE_VM|CLONE_VFORK) under startup.Spawn, so the cost does
// not grow with the server's size; the child is reaped by children.reap.
// extra are the program's descriptors from 3 on (sslserver -n's). spawn
// returns the program's pid, 0 when it did not start.
func (s *Server) spawn(fd int, c *Description, env []string, extra ...int) int {
	prog, err := pathexec.Look(s.argv[0], s.path)
	first, argv, fused := prog, s.argv, false
	if err == nil && s.Fuse != nil {
		prog, argv, env, fused = s.fuse(prog, env)
	}
	var pid int
	var files [6]uintptr
	n := copy(files[:], s.files)
	for i := 0; i < 2; i++ {
		files[i] = uintptr(fd)
	}
	for _, x := range extra {
		for ; n < 3; n++ {
			files[n] = ^uintptr(0) // a closed stderr stays closed
		}
		files[n] = uintptr(x)
		n++
	}

	// startup.Spawn is syscall.ForkExec, but the child gets tcpserver's
	// limits and signal mask as they were at start (docs/process.md).
	fork := func() (int, error) {
		s.kids.spawning.RLock()
		defer s.kids.spawning.RUnlock()
		pid, err := startup.Spawn(prog, argv, env, files[:n])
		if err != nil && err != syscall.EAGAIN && !shortage(err) && fused {
			// What a fused applet would exec cannot run: let the applet
			// run and say so in its own words.
			pid, err = startup.Spawn(first, s.argv, env, files[:n])
		}
		if err == nil {
			s.kids.ips.started(pid, c) // before the reaper can collect pid
		}
		if err == nil && s.log.verbose() {
			b := s.log.appendFrom(nil, pid, s.remoteText(c.Remote))
			b = s.log.appendVerdict(b, "ok", pid, c)
			s.log.write(s.log.appendAccept(b, pid, c))
		}
		return pid, err
	}
	if err == nil {
		// Waiting for descriptors (the fork's pipe) with the reaper free.
		pid, err = whenDescriptors(fork)
	}
	if err != nil {
		s.kids.ips.cancel(c)
	}

	switch {
	case err == nil:
		closeFD(fd)
		return pid
	case err == syscall.EAGAIN:
		var b []byte
		if s.log.verbosity >= 1 {
			b = s.log.appendDrop(b, "unable to fork: ", err)
		}
		s.kids.forkFailed(b)
		closeFD(fd)
	default:
		s.drop(fd, c.Remote, c, &failure{"unable to run " + s.argv[0] + ": ", err})
	}
	return 0
}

// Fused is what a fused applet does in place of running: exec File with Argv,
// in its environment changed by Setenv ("VAR=value"). An empty File leaves
// the applet to run, with the decision it made handed to it in Setenv (a
// listed client's rblsmtpd gets the verdict in $RBLSMTPD, and does not ask
// the DNS again).
type Fused struct {
	File   string
	Argv   []string
	Setenv []string
}

// fuse follows a chain of our own applets that would only decide and exec
// (argv0, rblsmtpd; see Server.Fuse): each one the server can decide for is
// skipped, and what it would have exec'd is spawned in its place, found along
// the $PATH it would have searched, its environment's. A step whose program
// cannot be found is not taken: the applet runs and reports that itself.
// The chain ends: each step either consumes arguments or hands the applet
// its decision, after which it is no longer one the server decides for.
func (s *Server) fuse(prog string, env []string) (string, []string, []string, bool) {
	argv, fused := s.argv, false
	for {
		step, ok := s.Fuse(prog, argv, env)
		if !ok {
			return prog, argv, env, fused
		}
		for _, kv := range step.Setenv {
			env = setEnv(env, kv)
		}
		if step.File == "" {
			continue // the same applet, with its decision in hand
		}
		path := pathexec.Path(func(name string) (string, bool) { return LookupEnv(env, name) })
		found, err := pathexec.Look(step.File, path)
		if err != nil {
			return prog, argv, env, fused
		}
		prog, argv, fused = found, step.Argv, true
	}
}

// setEnv is env with kv ("VAR=value") in place of VAR's setting, or added.
// env is copied: the caller's stays as it was.
func setEnv(env []string, kv string) []string {
	name := nameOf(kv)
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if nameOf(e) != name {
			out = append(out, e)
		}
	}
	return append(out, kv)
}
