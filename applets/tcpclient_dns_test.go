package applets

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// TestTCPClientDNSAgainstReference: tcpclient's lookups against Debian's with
// the same fake DNS server: names as djb's library writes them, which records
// count, the completion of short names, failures and their words. A failing
// server costs djb's library 11 s (see ucspi/dns), so the runs all go at once.
func TestTCPClientDNSAgainstReference(t *testing.T) {
	ref, ours := reftest.Ref(t, "tcpclient"), reftest.Ours(t, "tcpclient")
	srv := fakedns.Start(t,
		"1.45.0.127.in-addr.arpa. PTR MiXeD.Server.TEST.",
		`2.45.0.127.in-addr.arpa. PTR odd\.dot\000\255\ sp.test.`,
		"3.45.0.127.in-addr.arpa. CNAME 3.0/25.45.0.127.in-addr.arpa.",
		"3.0/25.45.0.127.in-addr.arpa. PTR classless.test.",
		"www.test. CNAME one.test.", "one.test. CNAME two.test.", "two.test. A 127.0.45.1",
		"tc.test. A 127.0.45.1",
		"dangling.test. CNAME nowhere.test.",
		"mail.example.test. A 127.0.45.3",
	)
	srv.Answer(t, "foreign.test.", "A", "elsewhere.test. A 127.0.45.1", "foreign.test. TXT \"x\"")
	srv.Truncate("tc.test.")
	srv.ServFail("broken.test.")
	srv.ServFail("4.45.0.127.in-addr.arpa.")
	absent := fakedns.Absent(t)
	probe, _ := os.Executable()
	port := func(ip string) string { return strconv.Itoa(int(probeServer(t, ip+":0"))) }
	p1, p2, p3, p4 := port("127.0.45.1"), port("127.0.45.2"), port("127.0.45.3"), port("127.0.45.4")
	closed := strconv.Itoa(int(clientTestPort(t, "127.0.45.0")))
	rules := filepath.Join(t.TempDir(), "dnsrewrite")
	os.WriteFile(rules, []byte("=short:www.test\n*.example:.example.test\n"), 0o644)

	base := clientEnv(srv)
	withEnv := func(vars ...string) []string {
		env := append([]string(nil), base...)
		for _, v := range vars {
			name, _, _ := strings.Cut(v, "=")
			for i, kv := range env {
				if strings.HasPrefix(kv, name+"=") {
					env = append(env[:i], env[i+1:]...)
					break
				}
			}
			if !strings.HasSuffix(v, "=-") {
				env = append(env, v)
			}
		}
		return env
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string // in what ours printed, so that agreeing on nothing fails
	}{
		{"mixed-case PTR", []string{"-R", "127.0.45.1", p1, probe}, base, "TCPREMOTEHOST=mixed.server.test\n"},
		{"local name", []string{"-R", "-i", "127.0.45.1", "127.0.45.2", p2, probe}, base,
			`TCPLOCALHOST=mixed.server.test` + "\n" + `TCPLOCALIP=127.0.45.1`},
		{"odd bytes in a PTR, remote", []string{"-R", "127.0.45.2", p2, probe}, base, `TCPREMOTEHOST=odd\056dot\000\377\040sp.test` + "\n"},
		{"classless PTR", []string{"-Rl0", "127.0.45.3", p3, probe}, base, "TCPREMOTEHOST=classless.test\n"},
		{"PTR lookup fails", []string{"-Rl0", "127.0.45.4", p4, probe}, base, "TCPREMOTEIP=127.0.45.4\nTCPREMOTEPORT"},
		{"CNAME chain", []string{"-RHl0", "www.test", p1, probe}, base, "TCPREMOTEIP=127.0.45.1\n"},
		{"CNAME alone", []string{"-RHl0", "dangling.test", p1, probe}, base, "no IP address for dangling.test"},
		{"foreign owner", []string{"-RHl0", "foreign.test", p1, probe}, base, "TCPREMOTEIP=127.0.45.1\n"},
		{"truncated, then TCP", []string{"-RHl0", "tc.test", p1, probe}, base, "TCPREMOTEIP=127.0.45.1\n"},
		{"SERVFAIL", []string{"-RHl0", "broken.test", p1, probe}, base, "broken.test: temporary failure"},
		{"no DNS server", []string{"-RHl0", "www.test", p1, probe}, withEnv("DNSCACHEIP=" + absent), "www.test: connection refused"},
		{"no DNS server to ask", []string{"-RHl0", "www.test", p1, probe}, withEnv("DNSCACHEIP=0.0.0.0"), "www.test: input/output error"},
		{"second DNS server", []string{"-RHl0", "www.test", p1, probe}, withEnv("DNSCACHEIP=" + absent + "." + srv.IP), "TCPREMOTEIP=127.0.45.1\n"},
		{"dnsrewrite rule", []string{"-RHl0", "short", p1, probe}, withEnv("DNSREWRITEFILE=" + rules), "TCPREMOTEIP=127.0.45.1\n"},
		{"dnsrewrite suffix", []string{"-RHl0", "mail.example", p3, probe}, withEnv("DNSREWRITEFILE=" + rules), "TCPREMOTEIP=127.0.45.3\n"},
		{"LOCALDOMAIN", []string{"-RHl0", "www", p1, probe}, withEnv("DNSREWRITEFILE=-", "LOCALDOMAIN=nx.test test"), "TCPREMOTEIP=127.0.45.1\n"},
		{"trailing dot kept without rules", []string{"-RHl0", "127.0.45.", closed, "true"}, base, "127.0.45.0 port"},
		{"trailing dot dropped by the rules", []string{"-RHl0", "127.0.45.", closed, "true"}, withEnv("DNSREWRITEFILE=-", "LOCALDOMAIN=-"), "no IP address for 127.0.45."},
	}
	results := make([][2]reftest.Result, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		for j, prog := range []string{ref, ours} {
			wg.Go(func() {
				t.Run(tc.name+"/"+[]string{"reference", "ours"}[j], func(t *testing.T) {
					results[i][j] = reftest.Run(t, prog, reftest.Cmd{Args: tc.args, Env: tc.env, Timeout: 30 * time.Second})
				})
			})
		}
	}
	wg.Wait()
	for i, tc := range cases {
		want, got := results[i][0], results[i][1]
		for _, r := range []*reftest.Result{&want, &got} {
			r.Stdout = anyLocalPort(r.Stdout)
		}
		if !bytes.Equal(want.Stdout, got.Stdout) || !bytes.Equal(want.Stderr, got.Stderr) || want.Code != got.Code {
			t.Errorf("%s: reference:\n%s%s(exit %d)\nours:\n%s%s(exit %d)", tc.name,
				want.Stdout, want.Stderr, want.Code, got.Stdout, got.Stderr, got.Code)
		}
		if !bytes.Contains(append(got.Stdout, got.Stderr...), []byte(tc.want)) {
			t.Errorf("%s: ours lacks %q:\n%s%s", tc.name, tc.want, got.Stdout, got.Stderr)
		}
	}
}
