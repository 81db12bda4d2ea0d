package ssl

import (
	"reflect"
	"testing"
	"time"
)

// TestClientConfigRoundTrip: what sslclient sends its child is what the child
// reads, the password's nil and empty kept apart; anything cut short or
// longer is refused.
func TestClientConfigRoundTrip(t *testing.T) {
	for _, cc := range []ClientConfig{
		{},
		{Password: []byte{}},
		{CAFile: "/etc/ca.pem", CADir: "/etc/ssl/certs", NoVerify: true, Name: "mail.example.com",
			ServerName: "mail.example.com", CertFile: "c.pem", KeyFile: "k.pem", Password: []byte("secret\x00\n"),
			Ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:HIGH", Depth: 100, Timeout: 2147483648 * time.Second,
			Idle: 3 * time.Second, ModSSL: true},
		{Name: string(make([]byte, 300)), Depth: -1, Timeout: -time.Nanosecond},
	} {
		b, err := cc.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got ClientConfig
		if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, cc) {
			t.Errorf("%+v: read back %+v (%v)", cc, got, err)
		}
		for n := range len(b) {
			if err := new(ClientConfig).UnmarshalBinary(b[:n]); err == nil {
				t.Errorf("%+v cut to %d bytes: read without an error", cc, n)
			}
		}
		if err := new(ClientConfig).UnmarshalBinary(append(b, 0)); err == nil {
			t.Errorf("%+v with a byte more: read without an error", cc)
		}
	}
}
