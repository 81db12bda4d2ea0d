package cdbrules

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// generateRules writes n lines of rules using every address form 0.88 knows
// (and, with v6, the IPv6 patch's forms), with comments, blank lines, trailing
// blanks, ignored lines, duplicate keys and variables with all kinds of
// delimiters. Every line is valid: both references compile it. Lines without a
// colon (which 0.88 ignores) are left out of the v6 file, because the IPv6
// reference loops forever on them.
func generateRules(n int, seed uint64, v6 bool) []byte {
	r := rand.New(rand.NewPCG(seed, 88))
	var b bytes.Buffer
	var seen []string
	octet := func() int { return r.IntN(256) }
	host := func() string {
		labels := []string{"mail", "www", "example", "movie", "edu", "com", "abuser", "x", "a-b", "one", "two", "three"}
		k := 1 + r.IntN(4)
		parts := make([]string, k)
		for i := range parts {
			parts[i] = labels[r.IntN(len(labels))]
		}
		return strings.Join(parts, ".")
	}
	user := func() string { return []string{"joe", "bill", "xyz", "root", "a.b"}[r.IntN(5)] }
	ip6 := func() string {
		var ip [16]byte
		for i := range ip {
			if r.IntN(3) > 0 {
				ip[i] = byte(r.IntN(256))
			}
		}
		if r.IntN(2) == 0 {
			copy(ip[:4], []byte{0x20, 0x01, 0x0d, 0xb8})
		}
		return FormatIP6(ip)
	}
	for i := 0; i < n; i++ {
		var addr string
		switch k := r.IntN(24); {
		case k < 5:
			addr = fmt.Sprintf("%d.%d.%d.%d", octet(), octet(), octet(), octet())
		case k == 5:
			addr = fmt.Sprintf("%d.%d.%d.", octet(), octet(), octet())
		case k == 6:
			addr = fmt.Sprintf("%d.%d.", octet(), octet())
		case k == 7:
			addr = fmt.Sprintf("%d.", octet())
		case k == 8:
			addr = ""
		case k == 9:
			lo := octet()
			addr = fmt.Sprintf("%d.%d.%d.%d-%d", octet(), octet(), octet(), lo, max(0, lo+r.IntN(300)-20))
		case k == 10:
			lo := octet()
			addr = fmt.Sprintf("%d.%d-%d.", octet(), lo, lo+r.IntN(12))
		case k == 11:
			addr = fmt.Sprintf("%d-%d.", r.IntN(20), r.IntN(20))
		case k == 12:
			addr = fmt.Sprintf("%d.%d.%d.-%d", octet(), octet(), octet(), r.IntN(9))
		case k == 13:
			addr = "=" + host()
		case k == 14:
			addr = "=." + host()
		case k == 15:
			addr = "="
		case k == 16:
			addr = fmt.Sprintf("%s@%d.%d.%d.%d", user(), octet(), octet(), octet(), octet())
		case k == 17:
			addr = user() + "@=" + host()
		case k == 18 && len(seen) > 0:
			addr = seen[r.IntN(len(seen))]
		case k == 19:
			fmt.Fprintf(&b, "# comment %d: %d.%d.%d.%d:deny\n", i, octet(), octet(), octet(), octet())
			continue
		case k == 20 && !v6:
			b.WriteString([]string{"\n", "   \n", "no colon here\n", "\t\n"}[r.IntN(4)])
			continue
		case k == 21 && v6:
			addr = ip6()
		case k == 22 && v6:
			a := ip6()
			addr = a[:strings.LastIndexByte(a, ':')+1]
		case k == 23 && v6:
			addr = user() + "@" + ip6()
		default:
			addr = fmt.Sprintf("%d.%d.%d.%d", octet(), 0, octet(), octet())
		}
		if r.IntN(8) == 0 {
			seen = append(seen, addr)
		}
		b.WriteString(addr)
		b.WriteString([]string{":allow", ":deny"}[r.IntN(2)])
		for v := r.IntN(4); v > 0; v-- {
			value := []string{"", "1", "@fix.me", "a b", "x:allow", "movie.edu", "=x=", "q,w"}[r.IntN(8)]
			delims := `"/'+=|#,!.x`
			d := delims[r.IntN(len(delims))]
			for strings.IndexByte(value, d) >= 0 {
				d = delims[r.IntN(len(delims))]
			}
			name := []string{"RELAYCLIENT", "TCPLOCALHOST", "which", "X", "A_B", ""}[r.IntN(6)]
			fmt.Fprintf(&b, ",%s=%c%s%c", name, d, value, d)
		}
		b.WriteString([]string{"", "", "", " ", "\t", " \t "}[r.IntN(6)])
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var rulesOut = flag.String("rules-out", "", "write the generated 100,000-line rules file here (to time tcprules by hand)")

// TestGenerateRulesFile writes the generated file when -rules-out is given.
func TestGenerateRulesFile(t *testing.T) {
	if *rulesOut == "" {
		t.Skip("no -rules-out")
	}
	if err := os.WriteFile(*rulesOut, generateRules(100000, 1, false), 0644); err != nil {
		t.Fatal(err)
	}
}
