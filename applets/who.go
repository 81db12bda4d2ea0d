package applets

func init() {
	registerPlain(&Applet{
		Name:    "who@",
		Summary: "print the list of users on a remote host (systat, port 11)",
		Usage:   "who@ [ host [ port ] ]",
		Manual: Manual{
			Description: `who@ connects to TCP port 11 (systat) on host (default: the local host) and prints what it receives, removing the CR of each CR LF and showing unprintable characters as cat -v does (^M, M-x, ^?). Some hosts answer on port 11 with a list of active users, for example by running tcpserver -RHl0 0 11 who.

The second operand, not in 0.88, names another port.`,
			Options:     scriptOptions("who@"),
			Environment: scriptEnvironment,
			ExitStatus:  `0, even when it cannot connect (tcpclient's messages say so on standard error), as the 0.88 script did, whose status was cat's; 1, with cat's message ("cat: write error: No space left on device"), when its output fails.`,
			Examples: `A systat service, and a look at it:

  tcpserver -RHl0 0 11 who &
  who@ 127.0.0.1`,
			SeeAlso: []string{"date@", "finger@", "tcpclient"},
		},
	}, func(s *Stdio, args []string) error { return printRemote(s, args, "11") })
}
