package ucspi

import (
	"slices"
	"testing"
)

// TestTLSEnviron: the quick way (our environment, then the connection's
// variables) gives what Environment gives whenever it is taken, and is not
// taken when a variable must replace one of ours or another of the list.
func TestTLSEnviron(t *testing.T) {
	ours := []string{"PATH=/bin", "SSLCONCURRENCY=9", "HOME=/"}
	tls := &TLS{env: ours, envNames: map[string]bool{"PATH": true, "SSLCONCURRENCY": true, "HOME": true}}
	vars := SSLVars([]string{"PROTO=TCP", "TCPLOCALIP=127.0.0.1", "TCPREMOTEIP=127.0.0.2"}, false)
	for _, tc := range []struct {
		name     string
		tcpVars  bool
		vars     []string
		ruleVars []string
	}{
		{"connection only", false, vars, nil},
		{"mod_ssl too", false, append(slices.Clip(vars), "SSL_PROTOCOL=TLSv1.3"), nil},
		{"one of ours replaced", false, append(slices.Clip(vars), "SSLCONCURRENCY=2"), nil},
		{"rule variables", false, vars, []string{"HOME=/home/x", "SSLREMOTEIP=1"}},
		{"-e", true, SSLVars([]string{"PROTO=TCP", "TCPREMOTEIP=127.0.0.2"}, true), nil},
	} {
		tls.TCPVars = tc.tcpVars
		got := tls.environ(tc.vars, tc.ruleVars)
		want := Environment(ours, append(slices.Clip(tc.vars), tc.ruleVars...))
		if !slices.Equal(got, want) {
			t.Errorf("%s: environ = %q\nwant %q", tc.name, got, want)
		}
	}
}
