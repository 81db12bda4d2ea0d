package ucspi

import (
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// DNS as djb's library does it, tcpserver against Debian's with the same fake
// DNS server: how names come out, which records count, what a failing server
// costs and how it is reported. A failing server costs djb's library 11 s
// (see ucspi/dns), so the servers run all at once.

func TestDNSAgainstReference(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	srv := fakedns.Start(t,
		"1.0.0.127.in-addr.arpa. PTR LocalHost.TEST.",
		"3.2.1.127.in-addr.arpa. PTR MiXeD.Case.Example.COM.",
		"mixed.case.example.com. A 127.1.2.3",
		`4.2.1.127.in-addr.arpa. PTR odd\.dot\000\255\ sp.test.`,
		`odd\.dot\000\255\ sp.test. A 127.1.2.4`,
		"5.2.1.127.in-addr.arpa. CNAME 5.0/25.2.1.127.in-addr.arpa.",
		"5.0/25.2.1.127.in-addr.arpa. PTR classless.test.",
		"classless.test. CNAME real.test.", "real.test. A 127.1.2.5",
		"7.2.1.127.in-addr.arpa. PTR liar.test.",
		"9.2.1.127.in-addr.arpa. PTR big.test.",
		"big.test. A 127.1.2.9",
		"bind.test. CNAME bind2.test.", "bind2.test. A 127.1.9.9",
	)
	// Records whose owner is not the name asked about count all the same.
	srv.Answer(t, "6.2.1.127.in-addr.arpa.", "PTR", "elsewhere.arpa. PTR Foreign.test.")
	srv.Answer(t, "foreign.test.", "A", "elsewhere.test. A 127.1.2.6")
	srv.Answer(t, "liar.test.", "A", "liar.test. A 10.0.0.1", "elsewhere.test. A 127.1.2.7")
	srv.Truncate("9.2.1.127.in-addr.arpa.") // asked again over TCP
	srv.ServFail("8.2.1.127.in-addr.arpa.")
	absent := fakedns.Absent(t)

	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	cdb := filepath.Join(dir, "rules.cdb")
	tcprules(t, cdb, "=.example.com:deny\n=classless.test:allow,WHO=\"classless\"\n"+
		"=:allow,WHO=\"unknown\"\n=odd\\056dot\\000\\377\\040sp.test:allow,WHO=\"odd\"\n:allow,WHO=\"default\"\n")
	env := pathEnv("DNSCACHEIP=" + srv.IP)
	var conns []exchange
	for _, last := range "3456789" {
		conns = append(conns, exchange{from: "127.1.2." + string(last)})
	}
	compareAtOnce(t, ref,
		scenario{args: []string{"-v", "-R", "127.0.0.1", "0", print}, env: env, conns: conns},
		scenario{args: []string{"-v", "-Rp", "127.0.0.1", "0", print}, env: env, conns: conns},
		scenario{args: []string{"-v", "-R", "-x", cdb, "127.0.0.1", "0", print}, env: env, conns: conns},
		// The host operand: a CNAME to the address.
		scenario{args: []string{"-v", "-RHl0", "bind.test", "0", print}, env: env, host: "127.1.9.9", conns: []exchange{{}}},
		// No DNS server: the names stay unset, the rules see an unknown host.
		scenario{args: []string{"-v", "-R", "-l0", "-x", cdb, "127.0.0.1", "0", print},
			env: pathEnv("DNSCACHEIP=" + absent), conns: []exchange{{from: "127.1.2.3"}}},
	)
}

// TestDNSFailuresAgainstReference: what a failing DNS costs and how it is
// worded, in 0.88's words and after 0.88's retries: tcpserver's host operand,
// tcpclient's, rblsmtpd's lists. A silent server costs djb's library 59 s; in
// -short mode those cases are left out.
func TestDNSFailuresAgainstReference(t *testing.T) {
	srv := fakedns.Start(t, "nodata.test. MX 10 x.test.")
	srv.ServFail("broken.test.")
	srv.ServFail("1.0.0.127.broken.test.")
	absent, mute := fakedns.Absent(t), fakedns.Mute(t)
	type run struct {
		name, prog, dns string
		args            []string
	}
	cases := []run{
		{"refused", "tcpserver", absent, []string{"name.test", "0", "true"}},
		{"SERVFAIL", "tcpserver", srv.IP, []string{"broken.test", "0", "true"}},
		{"no address", "tcpserver", srv.IP, []string{"nodata.test", "0", "true"}},
		{"NXDOMAIN", "tcpserver", srv.IP, []string{"nx.test", "0", "true"}},
		{"long label", "tcpserver", srv.IP, []string{strings.Repeat("x", 64) + ".test", "0", "true"}},
		{"no server", "tcpserver", "0.0.0.0", []string{"name.test", "0", "true"}},
		{"second server", "tcpserver", absent + "." + srv.IP, []string{"nx.test", "0", "true"}},
		{"tcpclient, SERVFAIL", "tcpclient", srv.IP, []string{"broken.test", "1", "true"}},
		{"rblsmtpd -c, SERVFAIL", "rblsmtpd", srv.IP, []string{"-c", "-t0", "-r", "broken.test", "echo", "passed"}},
		{"rblsmtpd -c, refused", "rblsmtpd", absent, []string{"-c", "-t0", "-r", "rbl.test", "echo", "passed"}},
	}
	if !testing.Short() {
		cases = append(cases,
			run{"silent", "tcpserver", mute, []string{"name.test", "0", "true"}},
			run{"tcpclient, silent", "tcpclient", mute, []string{"name.test", "1", "true"}},
			run{"rblsmtpd -c, silent", "rblsmtpd", mute, []string{"-c", "-t0", "-r", "rbl.test", "echo", "passed"}},
		)
	}
	results := make([][2]reftest.Result, len(cases))
	took := make([][2]time.Duration, len(cases))
	atOnce(t, 2*len(cases), func(t *testing.T, i int) {
		tc := cases[i/2]
		prog := reftest.Ref(t, tc.prog)
		if i%2 == 1 {
			prog = reftest.Ours(t, tc.prog)
		}
		start := time.Now()
		results[i/2][i%2] = reftest.Run(t, prog, reftest.Cmd{
			Args:    tc.args,
			Env:     pathEnv("DNSCACHEIP="+tc.dns, "DNSREWRITEFILE=/dev/null", "TCPREMOTEIP=127.0.0.1"),
			Timeout: 90 * time.Second,
		})
		took[i/2][i%2] = time.Since(start)
	})
	for i, tc := range cases {
		want, got := results[i][0], results[i][1]
		want.Stderr, got.Stderr = reftest.Pids(want.Stderr), reftest.Pids(got.Stderr)
		if string(want.Stdout) != string(got.Stdout) || string(want.Stderr) != string(got.Stderr) || want.Code != got.Code {
			t.Errorf("%s: reference %q %q exit %d, ours %q %q exit %d", tc.name, want.Stdout, want.Stderr, want.Code, got.Stdout, got.Stderr, got.Code)
		}
		// The same retries: the same time, within a second or two.
		if d := took[i][1] - took[i][0]; d > 2*time.Second || d < -2*time.Second {
			t.Errorf("%s: reference took %v, ours %v", tc.name, took[i][0], took[i][1])
		}
	}
}

// compareAtOnce puts ours and the reference through every scenario, all at the
// same time, and reports the differences.
func compareAtOnce(t *testing.T, ref string, scenarios ...scenario) {
	t.Helper()
	results := make([][2]outcome, len(scenarios))
	progs := [2]string{ref, reftest.Ours(t, "tcpserver")}
	atOnce(t, 2*len(scenarios), func(t *testing.T, i int) {
		results[i/2][i%2] = scenarios[i/2].run(t, progs[i%2])
	})
	for i, sc := range scenarios {
		want, got := results[i][0], results[i][1]
		for j := range min(len(want.replies), len(got.replies)) {
			if got.replies[j] != want.replies[j] {
				t.Errorf("%q: connection %d differs\nreference: %q\nours:      %q", sc.args, j, want.replies[j], got.replies[j])
			}
		}
		if got.log != want.log {
			t.Errorf("%q: log differs\nreference:\n%s\nours:\n%s", sc.args, want.log, got.log)
		}
		if got.code != want.code {
			t.Errorf("%q: exit code on SIGTERM: reference %d, ours %d", sc.args, want.code, got.code)
		}
	}
}

// atOnce runs n subtests at the same time, whatever -parallel says: these
// mostly wait.
func atOnce(t *testing.T, n int, run func(t *testing.T, i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { t.Run(strconv.Itoa(i), func(t *testing.T) { run(t, i) }) })
	}
	wg.Wait()
}
