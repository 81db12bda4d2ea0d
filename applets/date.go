package applets

func init() {
	registerPlain(&Applet{
		Name:    "date@",
		Summary: "print the date on a remote host (daytime, port 13)",
		Usage:   "date@ [ host [ port ] ]",
		Manual: Manual{
			Description: `date@ connects to TCP port 13 (daytime) on host (default: the local host) and prints what it receives, removing the CR of each CR LF and showing unprintable characters as cat -v does. Some hosts answer on port 13 with a human-readable date, for example by running tcpserver -RHl0 0 13 date.

The second operand, not in 0.88, names another port.`,
			Options:     scriptOptions("date@"),
			Environment: scriptEnvironment,
			ExitStatus:  `0, even when it cannot connect (tcpclient's messages say so on standard error), as the 0.88 script did, whose status was cat's; 1, with cat's message ("cat: write error: No space left on device"), when its output fails.`,
			Examples: `A daytime service on another port, and a look at it:

  tcpserver -RHl0 127.0.0.1 1313 date &
  date@ 127.0.0.1 1313`,
			SeeAlso: []string{"who@", "finger@", "tcpclient"},
		},
	}, func(s *Stdio, args []string) error { return printRemote(s, args, "13") })
}
