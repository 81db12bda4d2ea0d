package ucspi

import (
	"os"
	"strings"
	"syscall"

	"github.com/ucspi-go/ucspi/ucspi/startup"
)

// prepareSpawn computes once what every spawn shares: the environment without
// inherited connection variables and the directories of $PATH.
func (s *Server) prepareSpawn() {
	s.env = Environment(os.Environ(), nil)
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = "/bin:/usr/bin" // djb's pathexec default
	}
	s.path = strings.Split(path, ":")
}

// spawn starts the program with the connection as its descriptors 0 and 1 (a
// blocking socket, accept4 having made it so) and our stderr as its 2, then
// lets go of the connection: the program is the only one holding it. fork is
// vfork-style (CLONE_VM|CLONE_VFORK) under syscall.ForkExec, so the cost does
// not grow with the server's size; the child is reaped by children.reap.
func (s *Server) spawn(fd int, c *Conn, env []string) {
	prog, err := s.lookPath(s.argv[0])
	var pid int
	var files [3]uintptr
	n := copy(files[:], s.files)
	for i := 0; i < 2; i++ {
		files[i] = uintptr(fd)
	}

	s.kids.spawning.RLock()
	if err == nil {
		// syscall.ForkExec, but the child gets tcpserver's limits and signal
		// mask as they were at start (docs/process.md).
		pid, err = startup.Spawn(prog, s.argv, env, files[:n])
	}
	if err == nil && s.log.verbose() {
		b := appendFrom(nil, pid, s.remoteText(c.Remote))
		s.log.write(appendVerdict(b, "ok", pid, c))
	}
	s.kids.spawning.RUnlock()

	switch {
	case err == nil:
		closeFD(fd)
	case err == syscall.EAGAIN:
		var b []byte
		if s.log.verbosity >= 1 {
			b = appendDrop(b, "unable to fork: ", err)
		}
		s.kids.forkFailed(b)
		closeFD(fd)
	default:
		s.drop(fd, c.Remote, c, "unable to run "+s.argv[0]+": ", err)
	}
}

// lookPath finds the program as djb's pathexec does: a name with a slash as it
// is, else the first $PATH entry holding it (an empty entry meaning the current
// directory); where none does, the error is the most telling one met, as
// execve's would have been.
func (s *Server) lookPath(file string) (string, error) {
	if strings.IndexByte(file, '/') >= 0 {
		return file, nil
	}
	var saved error = syscall.ENOENT
	for _, dir := range s.path {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		var st syscall.Stat_t
		err := syscall.Stat(p, &st)
		if err == nil {
			switch {
			case st.Mode&syscall.S_IFMT == syscall.S_IFDIR:
				err = syscall.EACCES // what execve says of a directory
			default:
				err = syscall.Access(p, 1) // X_OK
			}
		}
		switch err {
		case nil:
			return p, nil
		case syscall.ENOENT:
		case syscall.EACCES, syscall.EPERM:
			saved = err
		default:
			return "", err
		}
	}
	return "", saved
}
