package applets

import "os"

func init() {
	registerPlain(&Applet{
		Name:    "mconnect-io",
		Summary: "mconnect's relay, for a program run by tcpclient",
		Usage:   "mconnect-io",
		Manual: Manual{
			Description: `mconnect-io is the program tcpclient runs for mconnect: it copies its standard input to descriptor 7, adding a CR before each LF, and meanwhile copies descriptor 6 to its standard output, unchanged. When descriptor 6 ends it stops, whatever is left of its input.`,
			Options:     `mconnect-io takes no options and ignores its arguments.`,
			Environment: `mconnect-io reads no environment variables.`,
			ExitStatus:  `0.`,
			Examples: `What mconnect does, spelled out:

  tcpclient -RHl0 127.0.0.1 25 mconnect-io`,
			SeeAlso: []string{"mconnect", "tcpclient"},
		},
	}, func(s *Stdio, _ []string) error {
		mconnectIO(s.Out, s.In, os.NewFile(6, "network input"), os.NewFile(7, "network output"))
		return nil
	})
}
