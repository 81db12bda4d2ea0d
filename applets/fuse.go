package applets

import (
	"io"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/pathexec"
)

// Identify is how the binary knows which applet it is: by the name of the file
// executed (execPath, the path given to execve), else by its argv[0], else as
// "ucspi APPLET ...". It returns the applet and its arguments, or nil.
func Identify(execPath string, argv []string) (*Applet, []string) {
	if a := Lookup(filepath.Base(execPath)); a != nil {
		if len(argv) == 0 { // execve with an empty argv
			return a, nil
		}
		return a, argv[1:]
	}
	if len(argv) > 0 {
		if a := Lookup(filepath.Base(argv[0])); a != nil {
			return a, argv[1:]
		}
	}
	if len(argv) > 1 {
		if a := Lookup(argv[1]); a != nil {
			return a, argv[2:]
		}
	}
	return nil, nil
}

// Fuse is tcpserver's hook for running its own applets in-process (see
// Applet.Fuse): when path, the file tcpserver found for argv[0], is this very
// binary and the applet argv asks for can decide without a process, it
// returns what that applet would do instead of running.
func Fuse(path string, argv, env []string) (ucspi.Fused, bool) {
	// The names first: most programs are none of ours, and need no stat.
	a, args := Identify(path, argv)
	if a == nil || a.Fuse == nil || !isSelf(path) {
		return ucspi.Fused{}, false
	}
	return a.Fuse(args, func(name string) (string, bool) { return ucspi.LookupEnv(env, name) })
}

var self struct {
	once     sync.Once
	dev, ino uint64
	err      error
}

// isSelf reports whether path is the file this process runs: the same device
// and inode as /proc/self/exe, whatever name reached it.
func isSelf(path string) bool {
	self.once.Do(func() {
		var st syscall.Stat_t
		self.err = syscall.Stat("/proc/self/exe", &st)
		self.dev, self.ino = st.Dev, st.Ino
	})
	var st syscall.Stat_t
	return self.err == nil && pathexec.Stat(path, &st) == nil && st.Dev == self.dev && st.Ino == self.ino
}

// fuseFlags is a flag set for getopt, which parses as the applet's command
// does; getopt reports nothing itself, so a command line it refuses is left to
// the applet, which prints the error.
func fuseFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("fuse", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
