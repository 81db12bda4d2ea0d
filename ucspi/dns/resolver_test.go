package dns

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
)

func TestLookupsGoToDNSCACHEIP(t *testing.T) {
	srv := fakedns.Start(t,
		"www.example.test. A 127.1.2.3",
		"www.example.test. AAAA ::1",
		"3.2.1.127.in-addr.arpa. PTR www.example.test.",
	)
	srv.ServFail("broken.example.test.")
	t.Setenv("DNSCACHEIP", srv.IP)
	r := New()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	addrs, err := Addrs(ctx, r, "ip4", "www.example.test")
	if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("127.1.2.3") {
		t.Errorf("Addrs = %v, %v", addrs, err)
	}
	name, err := Name(ctx, r, netip.MustParseAddr("127.1.2.3"))
	if err != nil || name != "www.example.test" {
		t.Errorf("Name = %q, %v", name, err)
	}
	if _, err := Addrs(ctx, r, "ip4", "nothing.example.test"); !NotFound(err) {
		t.Errorf("missing name: err %v, want not found", err)
	}
	if _, err := Addrs(ctx, r, "ip4", "broken.example.test"); err == nil || NotFound(err) {
		t.Errorf("SERVFAIL: err %v, want a failure that is not 'not found'", err)
	}
	if len(srv.Queries()) == 0 {
		t.Error("the fake server saw no query")
	}
}

func TestCacheIPs(t *testing.T) {
	got := cacheIPs("127.0.0.1, 10.0.0.1 ::1 junk")
	want := []string{"127.0.0.1:53", "10.0.0.1:53", "[::1]:53"}
	if len(got) != len(want) {
		t.Fatalf("cacheIPs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cacheIPs[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}
