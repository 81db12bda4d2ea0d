package rblsmtpd

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// Exec replaces this process (same pid, same descriptors, nothing read from
// them) with the program argv[0], found as djb's pathexec_run finds it: a name
// with a slash as it is, any other in each directory of $PATH in turn
// ("/bin:/usr/bin" when unset, an empty entry meaning the current directory),
// passing over directories where it is missing or not permitted. It returns
// only on failure, with the error that says best why.
func Exec(argv, env []string) error {
	file := argv[0]
	if strings.Contains(file, "/") {
		return syscall.Exec(file, argv, env)
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
		err := syscall.Exec(dir+"/"+file, argv, env)
		if errors.Is(err, syscall.ENOENT) {
			continue
		}
		saved = err
		if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EISDIR) {
			return err
		}
	}
	if saved != nil {
		return saved
	}
	return syscall.ENOENT
}
