// Package pathexec finds and runs a program the way djb's pathexec_run does, so
// that what runs, and the error reported when nothing can, are 0.88's: Run
// replaces the running process (argv0, rblsmtpd, tcpclient), Look finds the file
// for a spawn (tcpserver), and both walk $PATH through the same search.
package pathexec

import (
	"errors"
	"os"
	"strings"
	"syscall"

	"github.com/ucspi-go/ucspi/ucspi/startup"
)

// DefaultPath is the search path when $PATH is unset, as in pathexec_run.
const DefaultPath = "/bin:/usr/bin"

// Path is the search path of a program whose environment getenv reads (for
// this process, os.LookupEnv): $PATH's directories, or DefaultPath's.
func Path(getenv func(string) (string, bool)) []string {
	path, ok := getenv("PATH")
	if !ok {
		path = DefaultPath
	}
	return strings.Split(path, ":")
}

// search is pathexec_run's walk. A file name holding a slash is tried as it is.
// Otherwise each directory is tried in turn (an empty entry is the current
// directory). A program that is not there moves on to the next directory; one
// that is there but may not be run (access denied, permission denied, is a
// directory) moves on too but is remembered as the reason; any other failure
// (say an exec format error) stops the search and is the reason. try returns
// nil to stop at a file it accepts.
func search(file string, path []string, try func(name string) error) error {
	if strings.IndexByte(file, '/') >= 0 {
		return try(file)
	}
	var saved error = syscall.ENOENT
	for _, dir := range path {
		if dir == "" {
			dir = "."
		}
		err := try(dir + "/" + file)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.ENOENT):
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EISDIR):
			saved = err
		default:
			return err
		}
	}
	return saved
}

// Run executes file with argv and env in place of this process (a real
// execve(2): same process id, same open descriptors, and what startup.Exec
// gives back of the process's start: its limits, signal mask, closed standard
// descriptors), searching the process's $PATH. It returns only if that
// failed, with the error that matters.
func Run(file string, argv, env []string) error {
	return search(file, Path(os.LookupEnv), func(name string) error {
		return startup.Exec(name, argv, env)
	})
}

// Look finds the file Run would execute, without executing it: the first
// candidate along path that exists, is not a directory and may be executed, or
// the error execve would have given. tcpserver spawns what it finds.
func Look(file string, path []string) (string, error) {
	if strings.IndexByte(file, '/') >= 0 {
		return file, nil // execve itself says why it cannot run it
	}
	var found string
	err := search(file, path, func(name string) error {
		var st syscall.Stat_t
		if err := Stat(name, &st); err != nil {
			return err
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			return syscall.EACCES // what execve says of a directory
		}
		if err := executable(name); err != nil {
			return err
		}
		found = name
		return nil
	})
	return found, err
}
