// Package relay puts a process between a program and the outside world, as
// fixcrio and recordio do: the program gets pipes for its standard input and
// output, and a relay process copies standard input to the first and the
// second to standard output, changing or recording the bytes on the way.
//
// The shape is 0.88's: the program takes over the process that was started (an
// exec: same process ID, so recordio's records and tcpserver's log name the same
// pid, and the caller sees the program's own exit status or signal), and the
// relay runs as the program's child. 0.88 gets that child by fork; Go cannot
// fork without exec, so the relay is this same binary run again, told what it is
// by the environment variable in helperEnv.
package relay

import (
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/pathexec"
)

// helperEnv marks the relay process and carries the program's pid. It is the
// relay's whole environment; the program never sees it.
const helperEnv = "UCSPI_RELAY_FOR_PID"

// The relay's ends of the program's pipes, as placed by Start.
const (
	toProgram   = 3
	fromProgram = 4
)

// Start runs argv (argv[0] is looked up along $PATH) with its standard input and
// output on pipes, and starts the relay for it: this binary run as applet name,
// which must call Helper first thing. Start returns only on failure, with 0.88's
// message for it.
func Start(name string, argv []string) error {
	pid := os.Getpid()
	progIn, relayIn, err := os.Pipe()
	if err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to create pipe: ")
	}
	relayOut, progOut, err := os.Pipe()
	if err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to create pipe: ")
	}

	helper := exec.Command(Self())
	helper.Args = []string{name}
	helper.Env = []string{helperEnv + "=" + strconv.Itoa(pid)}
	helper.Stdin, helper.Stdout, helper.Stderr = os.Stdin, os.Stdout, os.Stderr
	helper.ExtraFiles = []*os.File{relayIn, relayOut} // descriptors 3 and 4
	if err := helper.Start(); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to fork: ")
	}
	relayIn.Close()
	relayOut.Close()

	if err := move(progIn, 0); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to move descriptors: ")
	}
	if err := move(progOut, 1); err != nil {
		return exit.FatalSys(exit.Temporary, err, "unable to move descriptors: ")
	}
	err = pathexec.Run(argv[0], argv, os.Environ())
	return exit.FatalSys(exit.Temporary, err, "unable to run ", argv[0], ": ")
}

// move puts f on descriptor fd, open across exec, in place of f.
func move(f *os.File, fd int) error {
	if int(f.Fd()) == fd {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
		return err
	}
	defer f.Close()
	return unix.Dup3(int(f.Fd()), fd, 0)
}

// Self is a path that runs this very binary: /proc/self/exe, which works even if
// the file was replaced or removed since; without /proc (a chroot), the name we
// were run by.
func Self() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe"
	}
	if strings.Contains(os.Args[0], "/") {
		return os.Args[0]
	}
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		return p
	}
	return os.Args[0]
}

// Helper reports whether this process is a relay started by Start, and if so the
// pid of the program it serves.
func Helper() (pid string, ok bool) {
	// Start gives the relay that one variable and nothing else, and pipes on
	// descriptors 3 and 4: a stray variable alone does not make a relay.
	pid, ok = os.LookupEnv(helperEnv)
	if !ok || len(os.Environ()) != 1 || !isPipe(toProgram) || !isPipe(fromProgram) {
		return "", false
	}
	return pid, true
}

func isPipe(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}
