// Package pathexec replaces the running process with another program, looking the
// program up along $PATH the way djb's pathexec_run does, so that the error
// reported when nothing can be run is the one 0.88 reports.
package pathexec

import (
	"errors"
	"os"
	"strings"
	"syscall"

	"github.com/ucspi-go/ucspi/ucspi/startup"
)

// Run executes file with argv and env in place of this process (a real
// execve(2): same process id, same open descriptors). It returns only if that
// failed, with the error that matters.
//
// A file name holding a slash is run as it is. Otherwise each directory of the
// process's $PATH (an empty entry is the current directory; an unset PATH is
// /bin:/usr/bin) is tried in turn. A program that is not there moves on to the
// next directory; one that is there but may not be run (access denied,
// permission denied, is a directory) moves on too but is remembered as the
// reason; any other failure (say an exec format error) stops the search and is
// the reason.
func Run(file string, argv, env []string) error {
	if strings.Contains(file, "/") {
		return startup.Exec(file, argv, env)
	}
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = "/bin:/usr/bin"
	}
	var saved error
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			dir = "."
		}
		err := startup.Exec(dir+"/"+file, argv, env)
		if !errors.Is(err, syscall.ENOENT) {
			saved = err
			if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EISDIR) {
				return err
			}
		}
	}
	if saved != nil {
		return saved
	}
	return syscall.ENOENT
}
