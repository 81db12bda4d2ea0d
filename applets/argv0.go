package applets

import (
	"os"

	"github.com/ucspi-go/ucspi/ucspi"
	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/pathexec"
)

func init() {
	registerPlain(&Applet{
		Name:    "argv0",
		Summary: "run a program with a chosen 0th argument",
		Usage:   "argv0 realname program [ arg ... ]",
		Fuse: func(args []string, _ func(string) (string, bool)) (ucspi.Fused, bool) {
			if len(args) < 2 {
				return ucspi.Fused{}, false
			}
			return ucspi.Fused{File: args[0], Argv: args[1:]}, true
		},
		Manual: Manual{
			Description: `argv0 runs the program stored as realname on disk, with program as its 0th argument (rather than realname) and the remaining arguments after it. It is a real exec: the program takes over argv0's process, with the same process ID, descriptors and environment.

Some programs pay attention to their 0th argument; argv0 makes them usable from shell scripts. For example, argv0 /bin/csh -csh runs /bin/csh with a 0th argument of -csh, so that csh thinks it is a login shell. As another example, tcpserver 0 ftp argv0 tcpd ftpd -l -A runs tcpd with 0th argument ftpd and the remaining arguments -l -A, as the inetd.conf line "ftp stream tcp nowait root tcpd ftpd -l -A" would.

A realname holding a slash is run as it is; otherwise it is looked for in each directory of $PATH in turn. A directory where realname exists but cannot be run (access denied, is a directory) does not stop the search, but its reason is the one reported if no later directory has a runnable realname; any other failure, such as an exec format error, stops the search at once.

The ucspi applets themselves do not care about their 0th argument: argv0 ucspi smtpd tcpserver ... is tcpserver, and so is argv0 /usr/local/bin/tcpserver smtpd ..., since the name of the file executed decides first.`,
			Options:     `argv0 takes no options: every argument is passed on as given.`,
			Environment: `$PATH, to find realname (an empty entry means the current directory; an unset PATH means /bin:/usr/bin).`,
			ExitStatus:  `100 with a usage message if it is given fewer than two arguments; 111 with "argv0: fatal: unable to run realname: reason" if realname cannot be run. Otherwise the exit status is the program's.`,
			Examples: `Run a login shell:

  argv0 /bin/sh -sh

Name a server's process for ps, as inetd did:

  tcpserver 0 ftp argv0 tcpd ftpd -l -A`,
			SeeAlso: []string{"tcpserver"},
		},
	}, func(_ *Stdio, args []string) error {
		if len(args) < 2 {
			return exit.Usage()
		}
		err := pathexec.Run(args[0], args[1:], os.Environ())
		return exit.FatalSys(exit.Temporary, err, "unable to run ", args[0], ": ")
	})
}
